#!/usr/bin/env python3
"""The GDB commands' test (`python3 tools/test.py gdb`): boot QEMU waiting for GDB, stop at a
known point with GDB in batch mode, run each `pvlab` command (tools/gdb/pvlab.py) and check
its output against the state the guest set up.

1. Reference tree, `-- test=gdb -- test=gdb-peer`: the guest (guest/tests/gdb.c) maps a
   fresh page at 0x8000000000 (new L3, L2 and L1 tables), prints its mfn and its L4, binds
   ports and grants a page to d1 and maps d1's grant (printing their numbers), makes two
   xen_version hypercalls (with a ring header at the start of the page for `pvlab ring`),
   then a pvlab_debug_op log, where `break do_debug_op if cmd == 4`
   stops it.
2. Student tree: the same commands on `make STRIP=0` (every lab's stub, as in the lab 0
   release), stopped at d1's 50th exit of the demo: the commands read only given code
   (evtchn and grants: just the builder's timer port, no grant table).

Skips with one line when GDB (with Python) is missing.  Prints PASS:/FAIL: lines and
`gdb: N passed, N failed`.

  tests/system/gdb.py [-v]     -v: show GDB's and QEMU's whole output
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GDB = os.environ.get("GDB", "gdb")
VA = 0x8000000000
TIMEOUT = 120           # seconds for one GDB session, on a loaded machine
VERBOSE = "-v" in sys.argv[1:]


def skip(why):
    print("SKIP: gdb commands: %s" % why)
    print("gdb: 0 passed, 0 failed, 1 skipped")
    sys.exit(0)


def free_port():
    """A TCP port nobody listens on now (several QEMUs run at once: never a fixed one)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Is something listening on 127.0.0.1:port?  (Read from /proc, so that probing does
    not take the gdbstub's one connection.)  None when /proc cannot tell."""
    try:
        with open("/proc/net/tcp") as f:
            rows = [r.split() for r in f.read().split("\n")[1:]]
    except OSError:
        return None
    return any(len(r) > 3 and r[1].endswith(":%04X" % port) and r[3] == "0A" for r in rows)


def gdb_argv(kernel, port, stop, commands):
    """GDB in batch mode: connect, run to the breakpoint `stop`, then each (name, command),
    its output after a line @@name."""
    cmds = ["target remote 127.0.0.1:%d" % port, "break " + stop, "continue"]
    for name, cmd in commands:
        cmds += ["echo @@%s\\n" % name, cmd]
    cmds += ["echo @@end\\n", "kill"]
    argv = [GDB, "-q", "-batch", "-nx", "-x", os.path.join(ROOT, ".gdbinit")]
    for c in cmds:
        argv += ["-ex", c]
    return argv + [kernel]


def walk_then_frame(dom, va):
    """A command running `pvlab walk`, then `pvlab frame` of the mfn it ended at."""
    walk = "pvlab walk %d %#x" % (dom, va)
    return ("python import re; w = gdb.execute('%s', to_string=True); print(w, end=''); "
            "m = re.search(r'=> mfn (0x[0-9a-f]+)', w); "
            "print('@@frame'); gdb.execute('pvlab frame ' + (m.group(1) if m else '0'))" % walk)


def session(kernel, append, stop, commands):
    """Boot kernel with append under QEMU (TCG) and run GDB: (GDB's output, QEMU's)."""
    qlog = os.path.join(ROOT, "obj", "gdb-test-qemu.log")
    for _ in range(3):     # another program may take the free port before QEMU does
        port = free_port()
        with open(qlog, "w") as qf:
            q = subprocess.Popen([os.path.join(ROOT, "tools", "qemu"), "-g", str(port), kernel,
                                  append], stdout=qf, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 env=dict(os.environ, KVM="0"))
        deadline = time.monotonic() + 10
        while listening(port) is False and q.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if q.poll() is None:
            break
    try:
        if listening(port) is None:
            time.sleep(1)
        g = subprocess.run(gdb_argv(kernel, port, stop, commands), cwd=ROOT,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, text=True, errors="replace",
                           timeout=TIMEOUT)
        gout = g.stdout
    except subprocess.TimeoutExpired as e:
        gout = (e.stdout or b"").decode(errors="replace") + "\n(GDB timed out)"
    finally:
        if q.poll() is None:
            os.killpg(q.pid, signal.SIGKILL)
        q.wait()
    with open(qlog, errors="replace") as f:
        qout = f.read()
    if VERBOSE:
        print(gout + "\n---- QEMU ----\n" + qout)
    return gout, qout


def sections(out):
    """GDB's output cut at the @@NAME markers: {name: text}."""
    parts = re.split(r"^@@(\w+)$", out, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def __call__(self, ok, what, text=""):
        ok = bool(ok)
        if ok:
            self.passed += 1
            print("PASS: " + what)
        else:
            self.failed += 1
            print("FAIL: " + what)
            for line in text.strip("\n").split("\n")[-12:]:
                print("    | " + line)
        return ok


def table_levels(wk, dom):
    """Does the walk show d's L4 (pinned) and then L3, L2, L1 tables of the right types?"""
    return (re.search(r"^  L4  table 0x[0-9a-f]+ +owner d%d  type l4 .*PINNED" % dom, wk, re.M)
            and all(re.search(r"^  L%d  table 0x[0-9a-f]+ +owner d%d  type l%d  type_count 1 "
                              % (n, dom, n), wk, re.M) for n in (3, 2, 1)))


def reference(ok):
    """The commands against the state guest test=gdb set up."""
    gout, qout = session(os.path.join(ROOT, "obj", "hv.elf"), "-- test=gdb -- test=gdb-peer",
                         "do_debug_op if cmd == 4",
                         [("domains", "pvlab domains"), ("vcpu", "pvlab vcpu 0"),
                          ("trace", "pvlab trace 8 d0"), ("walk", walk_then_frame(0, VA)),
                          ("help", "help pvlab trace"), ("bad", "pvlab walk 7 0"),
                          ("ring", "pvlab ring 0 %#x" % VA), ("ringbad", "pvlab ring 0 0x10"),
                          # the VMX backend's branch: CR3 is in the VMCS, out of GDB's reach
                          ("vmx", "set var vcpu_ops = &vmx_ops"), ("vmxvcpu", "pvlab vcpu 0"),
                          ("vmxwalk", "pvlab walk 0 %#x" % VA),
                          ("vmxroot", "python gdb.execute('pvlab walk 0 %#x ' + "
                                      "re.search(r'L4 (0x[0-9a-f]+)', w).group(1))" % VA)]
                         + EVENTS_GRANTS)
    m = re.search(r"^\(d0\) gdb: mapped mfn ([0-9a-f]+) at va [0-9a-f]+, l4 ([0-9a-f]+)$",
                  qout, re.M)
    ver = re.search(r"^\(d0\) gdb: xen_version (\d+), then the stop$", qout, re.M)
    if not ok(m and ver and "Breakpoint 1, do_debug_op" in gout,
              "reference: the guest mapped its page and GDB stopped at its log hypercall",
              gout + "\n---- QEMU ----\n" + qout):
        return
    mfn, l4, version = int(m.group(1), 16), int(m.group(2), 16), int(ver.group(1))
    s = sections(gout)
    get = s.get

    dom = get("domains", "")
    ok(re.search(r"^d0 ?\*? +running +yes +2048 +\d+ +runnable +[0-9a-f]{16} +\d+ +\"test=gdb\"$",
                 dom, re.M), "domains: d0 running, privileged, 2048 pages, test=gdb", dom)
    ok(re.search(r"^d1 ?\*? +running +no +2048 +\d+ +\w+ +[0-9a-f]{16} +\d+ +\"test=gdb-peer\"$",
                 dom, re.M), "domains: d1 running, unprivileged, test=gdb-peer", dom)

    tr = get("trace", "").strip().split("\n")
    ok(re.search(r" d0 hypercall +rip [0-9a-f]{16}  pvlab_debug_op\(48\)  \(in progress\)$",
                 tr[-1]), "trace: the newest exit is d0's pvlab_debug_op, in progress",
       "\n".join(tr))
    ok(any(re.search(r" d0 hypercall .* xen_version\(17\) = %d$" % version, t) for t in tr),
       "trace: the xen_version just before it, with the result the guest got (%d)" % version,
       "\n".join(tr))

    vc = get("vcpu", "")
    ok(re.search(r"\bcr3 %016x\b" % (l4 << 12), vc), "vcpu: d0's cr3 is the L4 the guest uses", vc)
    ok(re.search(r"last exit: .*pvlab_debug_op\(48\)", vc), "vcpu: its last exit", vc)

    wk = get("walk", "")
    ok(re.search(r"^  L4  table %#-8x owner d0  type l4 .*PINNED" % l4, wk, re.M),
       "walk: starts at the guest's pinned L4", wk)
    ok(table_levels(wk, 0), "walk: through d0's new L3, L2 and L1 tables", wk)
    ok(re.search(r"^  => mfn %#x, machine address %#x$" % (mfn, mfn << 12), wk, re.M),
       "walk: ends at the mfn the guest mapped (%#x)" % mfn, wk)

    fr = get("frame", "")
    ok(re.search(r"^mfn %#x .*: owner d0  type writable  type_count 2  count 3  flags -$" % mfn,
                 fr, re.M), "frame: owner d0, writable, 2 type refs, 3 refs (alloc + 2 maps)", fr)
    ok(len(re.findall(r"^  mapped by d0's L1 table 0x[0-9a-f]+ entry \d+: [0-9a-f]{16}  P W U", fr,
                      re.M)) == 2, "frame: both writable mappings found", fr)
    ok("Usage: pvlab trace" in get("help", ""), "help pvlab trace", get("help", ""))
    ok(get("bad", "").strip() == "pvlab walk: no domain d7 (domains: d0 d1)",
       "a bad domain id: one line saying which exist", get("bad", ""))
    rg = get("ring", "")
    ok(re.search(r"^d0 ring at va %#x \(machine address %#x\)\n"
                 r"  req_prod  00000003  req_event 00000004  next request notifies the backend: yes\n"
                 r"  rsp_prod  fffffffe  rsp_event 00000001  next response notifies the frontend: no\n"
                 r"  requests not answered yet: 5$" % (VA, mfn << 12), rg, re.M),
       "ring: the guest's four indices, 5 requests out across the wrap, who is waiting", rg)
    ok(get("ringbad", "").strip() == "pvlab ring: d0 does not map 0x10",
       "ring: an unmapped address is one line", get("ringbad", ""))
    ok(re.search(r"cr3 \(in the VMCS: unreadable\)", get("vmxvcpu", "")),
       "vmx backend: vcpu says CR3 is out of reach", get("vmxvcpu", ""))
    ok(get("vmxwalk", "").strip() == "pvlab walk: the vmx backend keeps CR3 where GDB cannot "
       "read it: give the L4's mfn (pvlab walk DOM VA L4-MFN)",
       "vmx backend: walk without a root says what to give", get("vmxwalk", ""))
    ok(re.search(r"^  => mfn %#x, machine address" % mfn, get("vmxroot", ""), re.M),
       "vmx backend: walk with the L4 given", get("vmxroot", ""))
    events_grants(ok, get, qout)


# `pvlab evtchn` and `pvlab grants` in the reference session, after the commands above.
EVENTS_GRANTS = [("evtchn0", "pvlab evtchn 0"), ("evtchn1", "pvlab evtchn d1"),
                 ("grants0", "pvlab grants 0"), ("grants1", "pvlab grants d1"),
                 ("badev", "pvlab evtchn 7"), ("badgnt", "pvlab grants x"),
                 # d1 without ports: its timer and store ports closed, nothing pending, by hand
                 ("closed", "set var domains[1].evtchn[1].state = 0"),
                 ("closedstore", "set var domains[1].evtchn[domains[1].store_evtchn].state = 0"),
                 ("stray", "set var ((struct shared_info *)(domains[1].shared_info_mfn << 12))"
                           "->evtchn_pending[0] = 2"),
                 ("strayev", "pvlab evtchn 1"),
                 ("cleared", "set var ((struct shared_info *)(domains[1].shared_info_mfn << 12))"
                             "->evtchn_pending[0] = 0"),
                 ("noports", "pvlab evtchn 1")]


def events_grants(ok, get, qout):
    """pvlab evtchn and pvlab grants against the ports and grants d0 and d1 printed."""
    m = re.search(r"^\(d0\) gdb: ports unbound (\d+) pair (\d+) (\d+), grant ref (\d+) of mfn "
                  r"([0-9a-f]+), handles (\d+) (\d+) of d1 refs (\d+) (\d+) at va ([0-9a-f]+)$",
                  qout, re.M)
    peer = re.search(r"^\(d1\) gdb-peer: granted refs \d+ \d+ of mfns ([0-9a-f]+) ([0-9a-f]+) "
                     r"to d0$", qout, re.M)
    if not ok(m and peer, "events and grants: the guests printed their ports and grants", qout):
        return
    unbound, a, b, ref, mfn, handle, rohandle, pref, roref, va = [
        int(x, 16 if i in (4, 9) else 10) for i, x in enumerate(m.groups())]
    pmfn, romfn = int(peer.group(1), 16), int(peer.group(2), 16)
    ev = get("evtchn0", "")
    ok(re.search(r"^d0 event channels: vcpu0 upcall_pending 1, upcall_mask 0, "
                 r"pending_sel %016x$" % (1 << a // 64), ev, re.M),
       "evtchn: d0's vcpu_info: an upcall due, the selector bit of port %d" % a, ev)
    want = [(1, r"virq +0 \(timer\) +0 +0", "VIRQ_TIMER (the builder's)"),
            (unbound, r"unbound +for d1 +0 +1", "unbound for d1, masked"),
            (a, r"interdomain +d0 port %d +1 +0" % b, "interdomain to d0 port %d, pending" % b),
            (b, r"interdomain +d0 port %d +1 +1" % a, "its peer, pending and masked")]
    for port, rest, what in want:
        ok(re.search(r"^ +%d +%s$" % (port, rest), ev, re.M), "evtchn: d0 port %d: %s"
           % (port, what), ev)
    ok(len(re.findall(r"^ +\d+ +[a-z]", ev, re.M)) == 4, "evtchn: d0 has just those 4 ports", ev)
    ok(re.search(r"^ +1 +virq +0 \(timer\) +[01] +0$", get("evtchn1", ""), re.M),
       "evtchn d1: its timer port", get("evtchn1", ""))
    ok(re.search(r"^ +1 +free +- +1 +0$", get("strayev", ""), re.M),
       "evtchn: a pending bit on a free port is listed", get("strayev", ""))
    ok(get("noports", "").strip().split("\n")[-1] == "  no ports bound, none pending",
       "evtchn: a domain without ports says so", get("noports", ""))
    g0, g1 = get("grants0", ""), get("grants1", "")
    ok(re.search(r"^d0 grant table: 1 frame \(mfn 0x[0-9a-f]+\), 512 refs, 1 in use$", g0, re.M)
       and re.search(r"^ +%d +permit_access\|readonly +d1 +%#x +0 \(0 writable\)$" % (ref, mfn),
                     g0, re.M), "grants: d0's read-only grant of mfn %#x to d1, ref %d, unpinned"
       % (mfn, ref), g0)
    ok(re.search(r"^d0 maptrack: 2 handles in use\n  handle %d +-> d1 ref %d  host address %#x  "
                 r"mfn %#x  writable\n  handle %d +-> d1 ref %d  host address %#x  mfn %#x  "
                 r"readonly$" % (handle, pref, va, pmfn, rohandle, roref, va + 4096, romfn),
                 g0, re.M),
       "grants: d0's maptrack: handle %d of d1's ref %d writable, %d of ref %d read-only"
       % (handle, pref, rohandle, roref), g0)
    ok(re.search(r"^ +%d +permit_access\|reading\|writing +d0 +%#x +1 \(1 writable\)$"
                 % (pref, pmfn), g1, re.M),
       "grants: d1's ref %d in use (reading|writing) by d0, one writable pin" % pref, g1)
    ok(re.search(r"^ +%d +permit_access\|readonly\|reading +d0 +%#x +1 \(0 writable\)$"
                 % (roref, romfn), g1, re.M),
       "grants: d1's read-only ref %d in use (reading) by d0, one read-only pin" % roref, g1)
    ok(re.search(r"^ +1 +permit_access +d0 +0x[0-9a-f]+ +0 \(0 writable\)$", g1, re.M),
       "grants: d1's ref 1 is the builder's: its store page, for d0", g1)
    ok(re.search(r", 3 in use$", g1, re.M), "grants: d1 has just those 3 entries in use", g1)
    ok(re.search(r"^d1 maptrack: no handles in use$", g1, re.M), "grants: d1 maps nothing", g1)
    ok(get("badev", "").strip() == "pvlab evtchn: no domain d7 (domains: d0 d1)",
       "evtchn: a bad domain id: one line", get("badev", ""))
    ok(get("badgnt", "").strip() == "pvlab grants: 'x' is not a domain id (like 0 or d1)",
       "grants: not a domain id: one line", get("badgnt", ""))


def student(ok):
    """The commands on the student stubs of every lab (make STRIP=0), in the demo."""
    b = subprocess.run(["make", "-s", "STRIP=0"], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if not ok(b.returncode == 0, "student tree: make STRIP=0 builds", b.stdout):
        return
    gout, qout = session(os.path.join(ROOT, "obj", "strip0", "hv.elf"),
                         "-- test=demo -- test=demo",
                         "handle_exit if v->dom->id == 1 && v->exits == 50",
                         [("domains", "pvlab domains"), ("vcpu", "pvlab vcpu 1"),
                          ("trace", "pvlab trace 4 d1"), ("walk", walk_then_frame(1, 0x400000))]
                         + [("evtchn", "pvlab evtchn 1"), ("grants", "pvlab grants 1")])
    s = sections(gout)
    get = s.get
    if not ok("Breakpoint 1, handle_exit" in gout and "@@end" in gout,
              "student tree: GDB stopped at d1's 50th exit", gout + "\n---- QEMU ----\n" + qout):
        return
    dom = get("domains", "")
    ok(len(re.findall(r"^d[01] ?\*? +running +(yes|no) +2048 .*\"test=demo\"$", dom, re.M)) == 2,
       "student tree: domains lists d0 and d1", dom)
    tr = [t for t in get("trace", "").strip().split("\n")[1:] if t]
    ok(len(tr) == 4 and all(re.search(r"^  #\d+ +\d+ us before  d1 [a-z-]+ +rip [0-9a-f]{16}", t)
                            for t in tr), "student tree: trace shows d1's last 4 exits",
       get("trace", ""))
    wk, fr = get("walk", ""), get("frame", "")
    m = re.search(r"^  => mfn (0x[0-9a-f]+), machine address (0x[0-9a-f]+)$", wk, re.M)
    ok(m and int(m.group(2), 16) == int(m.group(1), 16) << 12 and table_levels(wk, 1),
       "student tree: walk of d1's entry point, level by level", wk)
    ok(m and re.search(r"^mfn %s .*: owner d1  type writable  type_count 1  count 2" % m.group(1),
                       fr, re.M), "student tree: frame of it: d1's, mapped writable once", fr)
    l4 = re.search(r"^  L4  table (0x[0-9a-f]+) ", wk, re.M)
    ok(l4 and re.search(r"^d1 vcpu0: .*\n(.*\n)*  cr0 [0-9a-f]{16}  cr2 [0-9a-f]{16}  cr3 %016x"
                        % (int(l4.group(1), 16) << 12), get("vcpu", ""), re.M),
       "student tree: vcpu 1 shows the CR3 the walk started from", get("vcpu", ""))
    ok(re.search(r"^ +1 +virq +0 \(timer\) +[01] +[01]$", get("evtchn", ""), re.M),
       "student tree: evtchn shows the builder's timer port", get("evtchn", ""))
    ok(re.fullmatch(r"d1 grant table: 1 frame \(mfn 0x[0-9a-f]+\), 512 refs, 1 in use\n"
                    r" +ref +flags +domid +frame +pins\n"
                    r" +1 +permit_access +d0 +0x[0-9a-f]+ +0 \(0 writable\)\n"
                    r"d1 maptrack: no handles in use", get("grants", "").strip()),
       "student tree: grants shows only the builder's table (its store ref 1) and no mapping",
       get("grants", ""))


def main():
    if not shutil.which(GDB):
        skip("%s not found (Debian: sudo apt-get install gdb)" % GDB)
    py = subprocess.run([GDB, "-q", "-batch", "-nx", "-ex", "python print('py' + 'ok')"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if "pyok" not in py.stdout:
        skip("%s has no Python support, which the pvlab commands need" % GDB)
    ok = Checks()
    if ok(os.path.exists(os.path.join(ROOT, "obj", "hv.elf")), "obj/hv.elf is built (make)"):
        reference(ok)
    student(ok)
    print("gdb: %d passed, %d failed" % (ok.passed, ok.failed))
    sys.exit(1 if ok.failed else 0)


if __name__ == "__main__":
    main()
