"""pvlab's GDB commands: the hypervisor's state as the labs talk about it (docs/GDB.md).

    pvlab domains            every domain: state, pages, vCPU, RIP, how it ended
    pvlab vcpu [DOM]         a vCPU's registers, control registers, last exit, events
    pvlab frame MFN          a machine frame: owner, type, counts, flags, who maps it
    pvlab walk DOM VA [L4]   a guest virtual address through the domain's page tables
    pvlab trace [N] [DOM]    the last N VM exits (hv/trace.c)
    pvlab evtchn DOM         a domain's event-channel ports: state, peer, pending, masked
    pvlab grants DOM         a domain's grant entries in use and its maptrack handles

`.gdbinit` sources this file.  Everything is read from hypervisor memory through its direct
map (virtual == machine address).  Under QEMU the commands switch the gdbstub to physical
addresses while they read (`maint packet Qqemu.PhyMemMode:1`), so they work wherever the
CPU stopped -- in the hypervisor or inside a guest, whose CR3 does not map the hypervisor.

Adding a command (lab 4's `evtchn`, lab 5's `grants`, lab 6's `ring`): write one function
taking the argument string, decorate it with @command("NAME"), give it a docstring (its
`help`), and use the helpers below: domain(), Frames(), table(), walk(), guest_to_machine(),
guest_cr3(), backend_state(), describe(), pte_flags(), Trace().
"""
import struct

import gdb

COMMANDS = {}           # name -> function(arg string); `pvlab NAME` runs it
PAGE_SHIFT = 12
ADDR_MASK = 0x000ffffffffff000
# Mirrors of #defines (not in the debug information): include/x86/hw.h, kern/frame.h.
PTE_BITS = [(0, "P"), (1, "W"), (2, "U"), (3, "PWT"), (4, "PCD"), (5, "A"), (6, "D"),
            (7, "PS"), (8, "G"), (63, "NX")]
OWNER_NAMES = {0xffff: "free", 0xfffe: "none (not RAM)", 0x7ff2: "xen"}
FRAME_FLAGS = [(0, "PINNED"), (1, "VALIDATED")]


def command(name):
    """Register fn as `pvlab NAME`; its docstring is the command's help."""
    def register(fn):
        COMMANDS[name] = fn
        return fn
    return register


class Phys:
    """While active, the gdbstub reads physical addresses (QEMU); the hypervisor's direct map
    makes those its own virtual addresses, whatever CR3 the CPU stopped with."""
    def __enter__(self):
        self.on = False
        try:
            out = gdb.execute("maint packet Qqemu.PhyMemMode:1", to_string=True)
            self.on = "OK" in out
        except gdb.error:
            pass    # not QEMU: read through the current CR3 and hope it is the hypervisor's
        gdb.execute("maint flush dcache", to_string=True)
        return self

    def __exit__(self, *exc):
        if self.on:
            gdb.execute("maint packet Qqemu.PhyMemMode:0", to_string=True)
        gdb.execute("maint flush dcache", to_string=True)


# ---- helpers: what every command reads ---------------------------------------------------

def sym(name):
    """The hypervisor variable `name` (static ones too), as a gdb.Value."""
    s = gdb.lookup_global_symbol(name) or gdb.lookup_static_symbol(name)
    if s is None:
        raise gdb.GdbError("pvlab: no symbol %s: load obj/hv.elf (make gdb does)" % name)
    return s.value()


def read(addr, n):
    """n bytes of machine memory at addr."""
    return bytes(gdb.selected_inferior().read_memory(addr, n))


def u64s(addr, n):
    """n 64-bit words at machine address addr."""
    return struct.unpack("<%dQ" % n, read(addr, 8 * n))


def enum_name(value, prefix=""):
    """An enum value's name without prefix, lower case: DOM_RUNNING -> running."""
    s = str(value)
    return (s[len(prefix):] if s.startswith(prefix) else s).lower()


def max_domains():
    return sym("domains").type.range()[1] + 1


def domain(arg, cmd):
    """The struct domain of "N" or "dN" (gdb.Value), or a one-line error for `cmd`."""
    text = arg.strip().lstrip("d")
    try:
        i = int(text, 0)
    except ValueError:
        raise gdb.GdbError("pvlab %s: %r is not a domain id (like 0 or d1)" % (cmd, arg))
    ids = [d for d in range(max_domains()) if int(sym("domains")[d]["state"]) != 0]
    if i not in ids:
        have = " ".join("d%d" % d for d in ids) or "none yet"
        raise gdb.GdbError("pvlab %s: no domain d%d (domains: %s)" % (cmd, i, have))
    return sym("domains")[i]


def number(arg, what, cmd):
    try:
        return int(gdb.parse_and_eval(arg))
    except (gdb.error, ValueError):
        raise gdb.GdbError("pvlab %s: %s %r is not a number" % (cmd, what, arg))


class Frames:
    """The frame table (kern/frame.h), read once per command."""
    def __init__(self):
        t = gdb.lookup_type("struct frame")
        self.size = t.sizeof
        self.off = {f.name: f.bitpos // 8 for f in t.fields()}
        self.fmt = {f.name: {1: "B", 2: "H", 4: "I", 8: "Q"}[f.type.sizeof] for f in t.fields()}
        self.base = int(sym("ftab"))
        self.n = int(sym("nr_frames"))
        self.raw = None

    def all(self):
        """Every record, as dicts (reads the whole table: about 0.5 MiB for 128 MiB)."""
        if self.raw is None:
            self.raw = read(self.base, self.n * self.size)
        return (self.unpack(self.raw, m * self.size) for m in range(self.n))

    def unpack(self, buf, at):
        return {k: struct.unpack_from("<" + self.fmt[k], buf, at + o)[0]
                for k, o in self.off.items()}

    def __getitem__(self, mfn):
        if not 0 <= mfn < self.n:
            raise gdb.GdbError("pvlab: mfn %#x is outside the frame table (0..%#x)"
                               % (mfn, self.n - 1))
        if self.raw is not None:
            return self.unpack(self.raw, mfn * self.size)
        return self.unpack(read(self.base + mfn * self.size, self.size), 0)


def frame_type(t):
    names = {int(f.enumval): f.name for f in gdb.lookup_type("enum frame_type").fields()}
    return names.get(t, "?%d" % t).replace("PGT_", "")


def owner_name(o):
    return OWNER_NAMES.get(o, "d%d" % o)


def describe(f):
    """One frame record in one line: owner, type, counts, flags."""
    flags = "|".join(n for b, n in FRAME_FLAGS if f["flags"] & (1 << b)) or "-"
    return "owner %s  type %s  type_count %d  count %d  flags %s" % (
        owner_name(f["owner"]), frame_type(f["type"]), f["type_count"], f["count"], flags)


def pte_flags(e):
    return " ".join(n for b, n in PTE_BITS if e & (1 << b))


def table(mfn):
    """The 512 entries of page-table frame mfn."""
    return u64s(mfn << PAGE_SHIFT, 512)


def walk(root, va):
    """Walk va from the L4 at mfn root as the MMU would: ([(level, table mfn, index, entry)],
    machine address or None, where it stopped)."""
    steps, mfn = [], root
    for level in (4, 3, 2, 1):
        idx = (va >> (PAGE_SHIFT + 9 * (level - 1))) & 511
        e = table(mfn)[idx]
        steps.append((level, mfn, idx, e))
        if not e & 1:
            return steps, None, "L%d: entry %d is not present" % (level, idx)
        if level > 1 and e & (1 << 7):
            return steps, None, "L%d: a superpage (PS), which pvlab guests may not map" % level
        mfn = (e & ADDR_MASK) >> PAGE_SHIFT
    return steps, (mfn << PAGE_SHIFT) | (va & 0xfff), None


def guest_to_machine(d, va, cmd):
    """The machine address of d's virtual address va through its live page tables (for
    commands given a guest pointer, such as a ring's address), or a one-line error."""
    cr3 = guest_cr3(d)
    if cr3 is None:
        raise gdb.GdbError("pvlab %s: the %s backend keeps CR3 where GDB cannot read it"
                           % (cmd, backend()))
    ma = walk(cr3 >> PAGE_SHIFT, va)[1]
    if ma is None:
        raise gdb.GdbError("pvlab %s: d%d does not map %#x" % (cmd, int(d["id"]), va))
    return ma


def backend():
    return sym("vcpu_ops").dereference()["name"].string()


def backend_state(v):
    """Control state the backend keeps in its hardware structure: {name: value} (a value
    None: the hardware keeps it where GDB cannot read it)."""
    if not int(v["hw"]):
        return {}
    if backend() == "svm":
        vmcb = v["hw"].cast(gdb.lookup_type("struct svm_vcpu").pointer())["vmcb"].dereference()
        s, c = vmcb["save"], vmcb["ctl"]
        out = {k: int(s[k]) for k in ("cr0", "cr2", "cr3", "cr4", "efer")}
        out["event to inject"] = int(c["eventinj"])
        return out
    x = v["hw"].cast(gdb.lookup_type("struct vmx_vcpu").pointer()).dereference()
    # VMX keeps CR0/CR3/CR4 in the VMCS, reached only by VMREAD: not in memory.
    return {"cr0": None, "cr2": int(x["cr2"]), "cr3": None, "cr4": None}


def guest_cr3(d):
    """The machine address of d's live page-table root, or None if unreadable (VMX)."""
    return backend_state(d["vcpu"]).get("cr3")


class Trace:
    """The exit trace ring of hv/trace.c."""
    def __init__(self):
        t = sym("trace")
        self.ring = t["rec"]
        self.size = self.ring.type.range()[1] + 1
        self.seq = int(t["seq"])
        self.reasons = sym("trace_reason_name")
        self.hcalls = sym("trace_hypercall_name")
        self.khz = int(sym("tsc_khz"))

    def records(self, n, dom=None):
        """The last n records (of domain dom, if given), oldest first: (seq, gdb.Value)."""
        out = []
        s = self.seq
        while s > 0 and self.seq - s < self.size and len(out) < n:
            s -= 1
            r = self.ring[s % self.size]
            if dom is None or int(r["dom"]) == dom:
                out.append((s, r))
        return out[::-1]

    def reason(self, r):
        i = int(r["reason"])
        hi = self.reasons.type.range()[1]
        return self.reasons[i].string() if 0 <= i <= hi else "?%d" % i

    def line(self, seq, r, newest_tsc):
        """One record in one line; newest_tsc None: without the time."""
        why = self.reason(r)
        arg, done = int(r["arg"]), int(r["done"])
        text = "#%-6d " % seq
        if newest_tsc is not None:
            us = (newest_tsc - int(r["tsc"])) * 1000 // self.khz if self.khz else 0
            text += "%8d us before  " % us
        text += "d%d %-12s rip %016x" % (int(r["dom"]), why, int(r["rip"]))
        if why == "hypercall":
            nr = self.hcalls.type.range()[1] + 1
            if arg < nr:
                name = self.hcalls[arg].string() if int(self.hcalls[arg]) else "unknown"
                text += "  %s(%d)" % (name, arg)
            else:
                text += "  number >= %d" % nr
            if done:
                text += " = %d" % int(r["result"])
        elif why in ARG_LABEL:
            text += "  %s %x" % (ARG_LABEL[why], arg)
        return text + ("" if done else "  (in progress)")


ARG_LABEL = {"io": "port", "msr-read": "msr", "msr-write": "msr", "cr-write": "cr",
             "exception": "vector"}


# ---- the commands ------------------------------------------------------------------------

@command("domains")
def cmd_domains(arg):
    """List the domains: state, privilege, pages, vCPU state and RIP, how each ended.

Usage: pvlab domains
pages is the domain's pseudo-physical size (start_info.nr_pages), frames the machine frames
the frame table says it owns (its pages plus the shared-info page)."""
    if arg.strip():
        raise gdb.GdbError("pvlab domains: takes no argument")
    frames = Frames()
    owned = {}
    for f in frames.all():
        owned[f["owner"]] = owned.get(f["owner"], 0) + 1
    cur = sym("current")
    cur_dom = int(cur.dereference()["dom"].dereference()["id"]) if int(cur) else None
    print("dom  state    priv  pages  frames  vcpu      rip               exits   command line / end")
    for i in range(max_domains()):
        d = sym("domains")[i]
        state = enum_name(d["state"], "DOM_")
        if state == "free":
            continue
        v = d["vcpu"]
        end = '"%s"' % d["cmdline"].string()
        if state in ("dying", "dead"):
            reason = int(d["shutdown_reason"])
            names = ["poweroff", "reboot", "suspend", "crash", "watchdog"]
            end = "shut down: %s" % (names[reason] if 0 <= reason < len(names) else reason)
            if d["crash_why"].string():
                end += " (%s)" % d["crash_why"].string()
        mark = "*" if i == cur_dom else " "
        print("d%-2d%s %-8s %-5s %-6d %-7d %-9s %016x  %-7d %s" % (
            i, mark, state, "yes" if d["privileged"] else "no", int(d["nr_pages"]),
            owned.get(i, 0), enum_name(v["state"], "VCPU_"), int(v["regs"]["rip"]),
            int(v["exits"]), end))
    if cur_dom is not None:
        print("* = current: its vCPU is running, or its exit is being handled")
    print("backend %s; exits recorded %d (pvlab trace)" % (backend(), int(sym("trace")["seq"])))


@command("vcpu")
def cmd_vcpu(arg):
    """Show a vCPU as the hypervisor last saw it: registers, CRs, last exit, events.

Usage: pvlab vcpu [DOM]     (default: the domain whose exit is being handled, else d0)
The registers are v->regs, the truth between two VM entries (hv/vcpu.h)."""
    if arg.strip():
        d = domain(arg, "vcpu")
    else:
        cur = sym("current")
        d = cur.dereference()["dom"].dereference() if int(cur) else domain("0", "vcpu")
    v = d["vcpu"]
    r = v["regs"]
    print("d%d vcpu%d: %s, exits %d, backend %s" % (int(d["id"]), int(v["id"]),
          enum_name(v["state"], "VCPU_"), int(v["exits"]), backend()))
    names = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
             "r12", "r13", "r14", "r15", "rip", "rflags"]
    for k in range(0, len(names), 4):
        print("  " + "  ".join("%-6s %016x" % (n, int(r[n])) for n in names[k:k + 4]))
    hw = backend_state(v)
    ctl = ["%s %s" % (k, "%016x" % val if val is not None else "(in the VMCS: unreadable)")
           for k, val in hw.items()]
    for k in range(0, len(ctl), 3):
        print("  " + "  ".join(ctl[k:k + 3]))
    t = Trace()
    last = t.records(1, int(d["id"]))
    if last:
        print("  last exit: " + t.line(last[0][0], last[0][1], None))
    else:
        print("  last exit: none recorded")
    print("  upcall vector %d, upcall due %s, timer deadline %d ns" % (
        int(v["upcall_vector"]), "yes" if v["upcall_due"] else "no", int(v["timer_deadline"])))
    si = gdb.Value(int(d["shared_info_mfn"]) << PAGE_SHIFT).cast(
        gdb.lookup_type("struct shared_info").pointer()).dereference()
    vi = si["vcpu_info"][int(v["id"])]
    print("  vcpu_info: evtchn_upcall_pending %d, evtchn_upcall_mask %d, evtchn_pending_sel %x"
          % (int(vi["evtchn_upcall_pending"]), int(vi["evtchn_upcall_mask"]),
             int(vi["evtchn_pending_sel"])))


@command("frame")
def cmd_frame(arg):
    """Show a machine frame: owner, type, counts, flags, pfn, who maps it.

Shows the owner, type, type count, general count and flags of the frame table's record,
the frame's pfn in the owner's pseudo-physical space (m2p), and the page-table entries
that map it.

Usage: pvlab frame MFN      (a number or expression: pvlab frame 0xc50)
The mappings are found by scanning every domain's validated page tables, so a mapping of
another domain's frame shows too."""
    if not arg.strip():
        raise gdb.GdbError("pvlab frame: which frame?  Usage: pvlab frame MFN")
    mfn = number(arg, "MFN", "frame")
    frames = Frames()
    f = frames[mfn]
    print("mfn %#x (machine address %#x): %s" % (mfn, mfn << PAGE_SHIFT, describe(f)))
    owner = f["owner"]
    if owner >= max_domains():
        return
    m2p = sym("m2p")
    pfn = int(m2p[mfn]) if int(m2p) else None
    if pfn is not None:
        print("  m2p: pfn %#x" % pfn if pfn != (1 << 64) - 1 else "  m2p: none")
    cr3 = guest_cr3(sym("domains")[owner])
    if cr3 is not None and cr3 >> PAGE_SHIFT == mfn:
        print("  the live page-table root (CR3) of d%d" % owner)
    maps = []
    for m, g in enumerate(frames.all()):
        if g["owner"] >= max_domains() or not 1 <= g["type"] <= 4 or not g["flags"] & 2:
            continue
        for i, e in enumerate(table(m)):
            if e & 1 and (e & ADDR_MASK) >> PAGE_SHIFT == mfn:
                maps.append("  mapped by d%d's L%d table %#x entry %d: %016x  %s"
                            % (g["owner"], g["type"], m, i, e, pte_flags(e)))
    print("\n".join(maps) if maps else "  not mapped by any validated page table")


@command("walk")
def cmd_walk(arg):
    """Walk a guest virtual address through a domain's page tables, as the MMU would.

Usage: pvlab walk DOM VA [L4-MFN]
Prints each level's table (machine frame, type and counts), the entry used and its flags,
then the machine address -- or the level where the walk stops.  L4-MFN walks another root
than CR3 (needed under VMX, where CR3 lives in the VMCS)."""
    words = arg.split()
    if len(words) not in (2, 3):
        raise gdb.GdbError("pvlab walk: usage: pvlab walk DOM VA [L4-MFN]")
    d = domain(words[0], "walk")
    va = number(words[1], "VA", "walk") & ((1 << 64) - 1)
    if len(words) == 3:
        root = number(words[2], "L4-MFN", "walk")
    else:
        cr3 = guest_cr3(d)
        if cr3 is None:
            raise gdb.GdbError("pvlab walk: the %s backend keeps CR3 where GDB cannot read it: "
                               "give the L4's mfn (pvlab walk DOM VA L4-MFN)" % backend())
        root = cr3 >> PAGE_SHIFT
    frames = Frames()
    print("d%d va %#x: L4 %#x, indices %d %d %d %d, offset %#x" % (
        int(d["id"]), va, root, (va >> 39) & 511, (va >> 30) & 511, (va >> 21) & 511,
        (va >> 12) & 511, va & 0xfff))
    steps, ma, stop = walk(root, va)
    for level, mfn, idx, e in steps:
        print("  L%d  table %#-8x %s" % (level, mfn, describe(frames[mfn])))
        print("      [%3d] = %016x  %s" % (idx, e, pte_flags(e) or "(not present)"))
    if ma is None:
        print("  stops at " + stop)
        return
    print("  => mfn %#x, machine address %#x" % (ma >> PAGE_SHIFT, ma))
    print("     frame: %s" % describe(frames[ma >> PAGE_SHIFT]))


RING_MASK = 0xffffffff


@command("ring")
def cmd_ring(arg):
    """Show a shared ring's four indices (include/public/io/ring.h) at a guest address.

Usage: pvlab ring DOM VA
Reads the header of the ring page DOM maps at VA (through its page tables): req_prod and
rsp_prod, the event indices req_event and rsp_event, the requests published and not yet
answered (req_prod - rsp_prod, modulo 2^32), and whether each side's next entry will notify
the peer (its event index is one past the producer index)."""
    words = arg.split()
    if len(words) != 2:
        raise gdb.GdbError("pvlab ring: usage: pvlab ring DOM VA")
    d = domain(words[0], "ring")
    va = number(words[1], "VA", "ring") & ((1 << 64) - 1)
    ma = guest_to_machine(d, va, "ring")
    if (ma & 0xfff) > 0x1000 - 16:
        raise gdb.GdbError("pvlab ring: the header at %#x crosses its page" % va)
    req_prod, req_event, rsp_prod, rsp_event = struct.unpack("<4I", read(ma, 16))

    def next_notifies(prod, event):
        return "yes" if (event - prod) & RING_MASK == 1 else "no"
    print("d%d ring at va %#x (machine address %#x)" % (int(d["id"]), va, ma))
    print("  req_prod  %08x  req_event %08x  next request notifies the backend: %s"
          % (req_prod, req_event, next_notifies(req_prod, req_event)))
    print("  rsp_prod  %08x  rsp_event %08x  next response notifies the frontend: %s"
          % (rsp_prod, rsp_event, next_notifies(rsp_prod, rsp_event)))
    print("  requests not answered yet: %d" % ((req_prod - rsp_prod) & RING_MASK))


@command("trace")
def cmd_trace(arg):
    """Show the last VM exits the hypervisor recorded (hv/trace.c), oldest first.

Each line: sequence number, when (microseconds before the newest shown, from the TSC),
domain, exit reason, guest RIP, and for a hypercall its name, number and result.

Usage: pvlab trace [N] [DOM]    (default: the last 16 exits of every domain)
"(in progress)" marks an exit whose handler has not returned: the one being handled now."""
    words = arg.split()
    n, dom = 16, None
    for w in words:
        if w.startswith("d"):
            dom = int(domain(w, "trace")["id"])
        else:
            n = number(w, "N", "trace")
    t = Trace()
    recs = t.records(n, dom)
    if not recs:
        print("no exits recorded%s" % ("" if dom is None else " for d%d" % dom))
        return
    newest = int(recs[-1][1]["tsc"])
    print("last %d exits%s (of %d recorded; the ring keeps %d):" % (
        len(recs), "" if dom is None else " of d%d" % dom, t.seq, t.size))
    for seq, r in recs:
        print("  " + t.line(seq, r, newest))


# Mirrors of #defines (include/public/event_channel.h, grant_table.h): not in the debug info.
EVTCHN_STATES = {0: "free", 1: "unbound", 2: "interdomain", 3: "pirq", 4: "virq", 5: "ipi"}
VIRQ_NAMES = {0: "timer", 1: "debug", 2: "console"}
GTF_BITS = [(2, "readonly"), (3, "reading"), (4, "writing")]


def raw_array(arr):
    """A gdb array value as (bytes, element size, {field: (offset, struct format)})."""
    el = arr.type.target()
    n = arr.type.range()[1] + 1
    fmt = {f.name: (f.bitpos // 8, {1: "B", 2: "H", 4: "I", 8: "Q"}[f.type.sizeof])
           for f in el.fields()}
    return read(int(arr.address), n * el.sizeof), el.sizeof, fmt


def field(buf, size, fmt, i, name):
    at, f = fmt[name]
    return struct.unpack_from("<" + f, buf, i * size + at)[0]


def bit(words, n):
    return (words[n // 64] >> (n % 64)) & 1


@command("evtchn")
def cmd_evtchn(arg):
    """Show a domain's event-channel ports: state, peer or virq, pending and masked.

Usage: pvlab evtchn DOM
One line per port in use (hv/hv.h struct evtchn, d->evtchn[]): unbound (and the domain
allowed to bind it), interdomain (the peer domain and port), virq N; then its bits in
the domain's shared-info page (evtchn_pending, evtchn_mask).  The first line is vCPU 0's
upcall_pending, upcall_mask and evtchn_pending_sel.  A pending bit on a free port is listed
too: it is a stray the guest would still see."""
    if not arg.strip():
        raise gdb.GdbError("pvlab evtchn: which domain?  Usage: pvlab evtchn DOM")
    d = domain(arg, "evtchn")
    buf, size, fmt = raw_array(d["evtchn"])
    si_type = gdb.lookup_type("struct shared_info")
    off = {f.name: f.bitpos // 8 for f in si_type.fields()}
    si = int(d["shared_info_mfn"]) << PAGE_SHIFT
    pending = u64s(si + off["evtchn_pending"], 64)
    mask = u64s(si + off["evtchn_mask"], 64)
    vi_size = gdb.lookup_type("struct vcpu_info").sizeof
    vi = read(si + off["vcpu_info"] + vi_size * int(d["vcpu"]["id"]), 16)   # pending, mask, sel
    print("d%d event channels: vcpu%d upcall_pending %d, upcall_mask %d, pending_sel %016x" % (
        int(d["id"]), int(d["vcpu"]["id"]), vi[0], vi[1], struct.unpack_from("<Q", vi, 8)[0]))
    lines = []
    for p in range(1, len(buf) // size):
        st = field(buf, size, fmt, p, "state")
        if st == 0 and not bit(pending, p):
            continue
        name = EVTCHN_STATES.get(st, "?%d" % st)
        rdom = field(buf, size, fmt, p, "remote_dom")
        rport = field(buf, size, fmt, p, "remote_port")
        if name == "unbound":
            peer = "for d%d" % rdom
        elif name == "interdomain":
            peer = "d%d port %d" % (rdom, rport)
        elif name == "virq":
            v = field(buf, size, fmt, p, "virq")
            peer = "%d%s" % (v, " (%s)" % VIRQ_NAMES[v] if v in VIRQ_NAMES else "")
        else:
            peer = "-"
        lines.append("  %4d  %-11s  %-16s  %d        %d" % (p, name, peer, bit(pending, p),
                                                           bit(mask, p)))
    if not lines:
        print("  no ports bound, none pending")
        return
    print("  port  state        peer / virq       pending  masked")
    print("\n".join(lines))


@command("grants")
def cmd_grants(arg):
    """Show a domain's grant table (entries in use) and its maptrack handles (mappings).

Usage: pvlab grants DOM
The table: its frames, then each entry whose flags are not 0 (include/public/
grant_table.h): ref, flags (permit_access, readonly, reading, writing), the domain it is
granted to, the frame, and the hypervisor's pin counts (hv/grant.c act[]).  The maptrack:
each live handle of DOM as a mapper: the granter domain and ref, the host address, the
frame, writable or readonly."""
    if not arg.strip():
        raise gdb.GdbError("pvlab grants: which domain?  Usage: pvlab grants DOM")
    d = domain(arg, "grants")
    i = int(d["id"])
    g = sym("gnt")[i]
    nf = int(g["nr_frames"])
    cap = g["frames"].type.range()[1] + 1
    if nf == 0:
        print("d%d grant table: none (nr_frames 0: no GNTTABOP_setup_table has succeeded)" % i)
    elif nf > cap:
        print("d%d grant table: nr_frames %d is over its maximum %d (corrupt)" % (i, nf, cap))
    else:
        frames = [int(g["frames"][k]) for k in range(nf)]
        act, asize, afmt = raw_array(g["act"])
        rows = []
        for k, mfn in enumerate(frames):
            tab = read(mfn << PAGE_SHIFT, 1 << PAGE_SHIFT)
            for e in range(512):
                flags, domid, frame = struct.unpack_from("<HHI", tab, 8 * e)
                if not flags:
                    continue
                ref = k * 512 + e
                kind = {0: "invalid", 1: "permit_access"}.get(flags & 3, "type%d" % (flags & 3))
                names = [kind] + [n for b, n in GTF_BITS if flags & (1 << b)]
                rest = flags & ~0x1f
                if rest:
                    names.append("%#x" % rest)
                pins = field(act, asize, afmt, ref, "pins") if ref * asize < len(act) else 0
                wpins = field(act, asize, afmt, ref, "wpins") if ref * asize < len(act) else 0
                rows.append("  %5d  %-30s  d%-4d  %#-9x  %d (%d writable)" % (
                    ref, "|".join(names), domid, frame, pins, wpins))
        print("d%d grant table: %d frame%s (mfn %s), %d refs, %d in use" % (
            i, nf, "" if nf == 1 else "s", " ".join("%#x" % m for m in frames), nf * 512,
            len(rows)))
        if rows:
            print("    ref  flags                           domid  frame      pins")
            print("\n".join(rows))
    mt, msize, mfmt = raw_array(g["maptrack"])
    handles = []
    for h in range(len(mt) // msize):
        if not field(mt, msize, mfmt, h, "live"):
            continue
        handles.append("  handle %-3d -> d%d ref %d  host address %#x  mfn %#x  %s%s" % (
            h, field(mt, msize, mfmt, h, "dom"), field(mt, msize, mfmt, h, "ref"),
            field(mt, msize, mfmt, h, "va"), field(mt, msize, mfmt, h, "mfn"),
            "writable" if field(mt, msize, mfmt, h, "writable") else "readonly",
            "  (granter gone)" if field(mt, msize, mfmt, h, "granter_gone") else ""))
    n = len(handles)
    print("d%d maptrack: %s" % (i, "%d handle%s in use" % (n, "" if n == 1 else "s") if n
                                else "no handles in use"))
    if handles:
        print("\n".join(handles))


# ---- the `pvlab` prefix and one GDB command per entry of COMMANDS ----------------------

class Pvlab(gdb.Command):
    """pvlab: the hypervisor's state (docs/GDB.md).  `help pvlab NAME` for each command."""

    def __init__(self):
        super().__init__("pvlab", gdb.COMMAND_USER, gdb.COMPLETE_COMMAND, prefix=True)

    def invoke(self, arg, from_tty):
        print("pvlab commands: " + ", ".join(sorted(COMMANDS)) + "  (help pvlab NAME)")


def make_command(name, fn):
    class Sub(gdb.Command):
        def invoke(self, arg, from_tty):
            if not gdb.selected_inferior().pid:
                raise gdb.GdbError("pvlab %s: not attached: run `make qemu-gdb` and `make gdb` "
                                   "(or pvlab-connect PORT)" % name)
            try:
                with Phys():
                    fn(arg)
            except gdb.MemoryError as e:
                raise gdb.GdbError("pvlab %s: cannot read hypervisor memory (%s): is GDB "
                                   "attached to a stopped pvlab (make gdb)?" % (name, e))
    Sub.__doc__ = fn.__doc__
    Sub("pvlab " + name, gdb.COMMAND_USER)


Pvlab()
for _name, _fn in sorted(COMMANDS.items()):
    make_command(_name, _fn)
