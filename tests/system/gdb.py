#!/usr/bin/env python3
"""The GDB commands' test (`python3 tools/test.py gdb`): boot `-- test=gdb -- test=idle` in
QEMU waiting for GDB, stop at a known point with GDB in batch mode, run each `pvlab` command
(tools/gdb/pvlab.py) and check its output against the state the guest set up and printed.

The guest (guest/tests/gdb.c) maps a fresh page at 0x8000000000 (new L3, L2 and L1 tables),
prints its mfn and its L4, makes two xen_version hypercalls and then a pvlab_debug_op log,
where the breakpoint `do_debug_op if cmd == 4` stops it.  Skips with one line when GDB (with
Python) is missing.  Prints PASS:/FAIL: lines and `gdb: N passed, N failed`.

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
KERNEL = os.path.join(ROOT, "obj", "hv.elf")
GDB = os.environ.get("GDB", "gdb")
VA = 0x8000000000
TIMEOUT = 120           # seconds for the whole session, on a loaded machine


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
            rows = f.read().split("\n")[1:]
    except OSError:
        return None
    return any(len(r.split()) > 3 and r.split()[1].endswith(":%04X" % port) and
               r.split()[3] == "0A" for r in rows)


def gdb_commands(port):
    """The batch session: connect, stop at the guest's log hypercall, run every command."""
    walk = "pvlab walk 0 %#x" % VA
    # `frame` of the mfn `walk` found (the guest's own line cross-checks that mfn)
    frame = ("python import re; w = gdb.execute('%s', to_string=True); "
             "m = re.search(r'=> mfn (0x[0-9a-f]+)', w); "
             "gdb.execute('pvlab frame ' + (m.group(1) if m else '0'))" % walk)
    cmds = ["target remote 127.0.0.1:%d" % port, "break do_debug_op if cmd == 4", "continue"]
    for name, cmd in (("domains", "pvlab domains"), ("vcpu", "pvlab vcpu 0"),
                      ("trace", "pvlab trace 8 d0"), ("walk", walk), ("frame", frame),
                      ("help", "help pvlab trace"), ("bad", "pvlab walk 7 0")):
        cmds += ["echo @@%s\\n" % name, cmd]
    cmds += ["echo @@end\\n", "kill"]
    argv = [GDB, "-q", "-batch", "-nx", "-x", os.path.join(ROOT, ".gdbinit")]
    for c in cmds:
        argv += ["-ex", c]
    return argv + [KERNEL]


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


def run_session():
    """Boot QEMU, run GDB; return (GDB's output, QEMU's output)."""
    port = free_port()
    qlog = os.path.join(ROOT, "obj", "gdb-test-qemu.log")
    with open(qlog, "w") as qf:
        q = subprocess.Popen([os.path.join(ROOT, "tools", "qemu"), "-g", str(port), KERNEL,
                              "-- test=gdb -- test=idle"], stdout=qf, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while listening(port) is False and q.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        if listening(port) is None:
            time.sleep(1)
        g = subprocess.run(gdb_commands(port), cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
                           errors="replace", timeout=TIMEOUT)
        gout = g.stdout
    except subprocess.TimeoutExpired as e:
        gout = (e.stdout or b"").decode(errors="replace") + "\n(GDB timed out)"
    finally:
        if q.poll() is None:
            os.killpg(q.pid, signal.SIGKILL)
        q.wait()
    with open(qlog, errors="replace") as f:
        return gout, f.read()


def main():
    verbose = "-v" in sys.argv[1:]
    if not shutil.which(GDB):
        skip("%s not found (Debian: sudo apt-get install gdb)" % GDB)
    py = subprocess.run([GDB, "-q", "-batch", "-nx", "-ex", "python print('py' + 'ok')"],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if "pyok" not in py.stdout:
        skip("%s has no Python support, which the pvlab commands need" % GDB)
    if not os.path.exists(KERNEL):
        print("FAIL: gdb commands: no obj/hv.elf: run make first")
        print("gdb: 0 passed, 1 failed")
        sys.exit(1)
    gout, qout = run_session()
    if verbose:
        print(gout + "\n---- QEMU ----\n" + qout)
    ok = Checks()
    m = re.search(r"^\(d0\) gdb: mapped mfn ([0-9a-f]+) at va [0-9a-f]+, l4 ([0-9a-f]+)$",
                  qout, re.M)
    ver = re.search(r"^\(d0\) gdb: xen_version (\d+), then the stop$", qout, re.M)
    if not ok(m and ver and "Breakpoint 1, do_debug_op" in gout,
              "the guest mapped its page and GDB stopped at its log hypercall",
              gout + "\n---- QEMU ----\n" + qout):
        print("gdb: %d passed, %d failed" % (ok.passed, ok.failed))
        sys.exit(1)
    mfn, l4, version = int(m.group(1), 16), int(m.group(2), 16), int(ver.group(1))
    s = sections(gout)
    get = s.get

    dom = get("domains", "")
    ok(re.search(r"^d0 ?\*? +running +yes +2048 +\d+ +runnable +[0-9a-f]{16} +\d+ +\"test=gdb\"$",
                 dom, re.M), "domains: d0 running, privileged, 2048 pages, test=gdb", dom)
    ok(re.search(r"^d1 ?\*? +running +no +2048 +\d+ +\w+ +[0-9a-f]{16} +\d+ +\"test=idle\"$",
                 dom, re.M), "domains: d1 running, unprivileged, test=idle", dom)

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
    ok(all(re.search(r"^  L%d  table 0x[0-9a-f]+ +owner d0  type l%d  type_count 1 " % (n, n),
                     wk, re.M) for n in (3, 2, 1)),
       "walk: through d0's new L3, L2 and L1 tables", wk)
    ok(re.search(r"^  => mfn %#x, machine address %#x$" % (mfn, mfn << 12), wk, re.M),
       "walk: ends at the mfn the guest mapped (%#x)" % mfn, wk)

    fr = get("frame", "")
    ok(re.search(r"^mfn %#x .*: owner d0  type writable  type_count 2  count 3  flags -$" % mfn,
                 fr, re.M), "frame: owner d0, writable, 2 type refs, 3 refs (alloc + 2 maps)", fr)
    ok(len(re.findall(r"^  mapped by L1 table 0x[0-9a-f]+ entry \d+: [0-9a-f]{16}  P W U", fr,
                      re.M)) == 2, "frame: both writable mappings found", fr)
    ok("Usage: pvlab trace" in get("help", ""), "help pvlab trace", get("help", ""))
    ok(get("bad", "").strip() == "pvlab walk: no domain d7 (domains: d0 d1)",
       "a bad domain id: one line saying which exist", get("bad", ""))
    print("gdb: %d passed, %d failed" % (ok.passed, ok.failed))
    sys.exit(1 if ok.failed else 0)


if __name__ == "__main__":
    main()
