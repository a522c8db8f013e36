#!/usr/bin/env python3
"""symbolize.py: name the code behind the addresses of a crash or hang report.

    symbolize.py [--root DIR] [LOG]      name the addresses of a log (or standard input)
    symbolize.py --follow HV_ELF         copy a console through, naming each report's
                                         addresses after it (tools/qemu on a terminal)

The hypervisor and the guest print raw addresses (a trap's rip, `pvlab: backtrace ...`, a
crashed domain's rip, `guest: unexpected exception ... at rip`).  This module turns each
into `function (file:line)` with binutils' addr2line and the ELF files the run booted:
ROOT/obj/hv.elf and ROOT/obj/guest/guest.elf.  A return address is looked up as address
- 1, so that a call that ends its function is not blamed on the next one.  Used by the
grader's failure report (gradelib.failure_report) and by hang reports (grade/hang.py).
"""
import os
import re
import shutil
import subprocess
import sys

HV_ELF = os.path.join("obj", "hv.elf")
GUEST_ELF = os.path.join("obj", "guest", "guest.elf")

BACKTRACE_RE = re.compile(r"^pvlab: backtrace[^:]*:((?: [0-9a-f]+)*)\s*$")
HV_TRAP_RE = re.compile(r"^pvlab: unexpected .* in the hypervisor")
DOM_CRASH_RE = re.compile(r"^pvlab: d\d+ crashed: ")
RIP_RE = re.compile(r"^\s+rip ([0-9a-f]+)\s")
CALLED_RE = re.compile(r"^\s+called from ([0-9a-f]+)\s*$")
HANG_RIP_RE = re.compile(r"^grade: hung: rip ([0-9a-f]+) in the (hypervisor|guest)")
HANG_BT_RE = re.compile(r"^grade: hung: backtrace:((?: [0-9a-f]+)*)\s*$")
GUEST_EXC_RE = re.compile(r"^(?:\(d\d+\) )?guest: unexpected exception .* at rip ([0-9a-f]+)")


def addr2line(elf, addrs, root):
    """{address: 'function (file:line)'} for the addresses (ints) in elf, paths relative to
    root, an inlined function followed by ', inlined in caller (file:line)'; {} when elf or
    addr2line is missing."""
    if not addrs or not os.path.isfile(elf) or not shutil.which("addr2line"):
        return {}
    try:
        out = subprocess.run(["addr2line", "-a", "-f", "-i", "-e", elf] + ["%x" % a for a in addrs],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return {}
    names = {}
    for block in re.split(r"^0x([0-9a-f]+)\n", out, flags=re.M)[1:]:
        if re.fullmatch(r"[0-9a-f]+", block):
            addr = int(block, 16)
            continue
        lines = block.rstrip("\n").split("\n")
        frames = []
        for func, loc in zip(lines[0::2], lines[1::2]):
            path, _, line = loc.rpartition(":")
            if path.startswith(root + os.sep):
                path = os.path.relpath(path, root)
            frame = "%s (%s:%s)" % (func, path, line.split(" ")[0])
            if not frames or not frames[-1].startswith(func + " ("):
                frames.append(frame)    # (an inlined helper's caller of the same name: once)
        if frames and not frames[0].startswith("??"):
            names[addr] = ", inlined in ".join(frames[:3])
    return names


def find_addresses(lines):
    """[(label, elf key 'hv'|'guest', address, is return address)] of the report lines."""
    found, context = [], None
    for line in lines:
        m = HANG_RIP_RE.match(line)
        if m:
            context = "hv" if m.group(2) == "hypervisor" else "guest"
            found.append(("hung at", context, int(m.group(1), 16), False))
            continue
        m = HANG_BT_RE.match(line)
        if m and context:
            for depth, a in enumerate(m.group(1).split()):
                found.append(("#%d" % (depth + 1), context, int(a, 16), True))
            continue
        m = BACKTRACE_RE.match(line)
        if m:
            for depth, a in enumerate(m.group(1).split()):
                found.append(("#%d" % (depth + 1), "hv", int(a, 16), True))
            context = None
            continue
        if HV_TRAP_RE.match(line):
            context = "hv"
        elif DOM_CRASH_RE.match(line):
            context = "guest"
        m = RIP_RE.match(line)
        if m and context:
            found.append(("rip" if context == "hv" else "guest rip", context, int(m.group(1), 16), False))
            continue
        m = CALLED_RE.match(line)
        if m and context == "hv":
            found.append(("called from", "hv", int(m.group(1), 16), True))
            continue
        m = GUEST_EXC_RE.match(line)
        if m:
            found.append(("guest rip", "guest", int(m.group(1), 16), False))
    return found


def where(lines, root, limit=24, elfs=None):
    """The lines naming the code of every address a report shows ('' list if none):
    'rip 104a2f: console_io (hv/console.c:52)'.  elfs: {'hv': path, 'guest': path}
    (default: ROOT/obj/hv.elf and ROOT/obj/guest/guest.elf)."""
    found = find_addresses(lines)[-limit:]
    elfs = elfs or {"hv": os.path.join(root, HV_ELF), "guest": os.path.join(root, GUEST_ELF)}
    names = {}
    for key, elf in elfs.items():
        addrs = sorted({a - 1 if ret and a else a for _, k, a, ret in found if k == key})
        names[key] = addr2line(elf, addrs, root)
    rows = []       # [label, address, name, repeats]: a recursion shows once, counted
    for label, key, a, ret in found:
        if a < 4096:
            rows.append([label, a, "a NULL pointer (page 0 is never mapped)", 1])
            continue
        name = names[key].get(a - 1 if ret else a)
        if not name:
            continue
        if rows and rows[-1][1:3] == [a, name]:
            rows[-1][3] += 1
            continue
        rows.append([label, a, name, 1])
    return ["%s %x: %s%s" % (l, a, n, " (x%d)" % r if r > 1 else "") for l, a, n, r in rows]


STUB_NAME_RE = re.compile(r"\blab (\d+): (\w+) not implemented", re.IGNORECASE)
SOURCE_DIRS = ("hv", "guest", "kern", "lib")


def stub_location(root, line):
    """'hv/hypercall.c:59' for a 'lab N: NAME not implemented' line: where the stub that
    prints it is (its lab_stub_warn(..., "NAME") or its message), or None."""
    m = STUB_NAME_RE.search(line)
    if not m or not root:
        return None
    lab, name = m.groups()
    needles = ('lab_stub_warn(', '"%s")' % name), ("lab %s: %s not implemented" % (lab, name),)
    guest_said = re.match(r"\(d\d+\) ", line) is not None      # a guest stub, not the hypervisor's
    dirs = sorted(SOURCE_DIRS, key=lambda d: (d == "guest") != guest_said)
    for d in dirs:
        top = os.path.join(root, d)
        for dirpath, dirs, files in os.walk(top):
            dirs.sort()
            for f in sorted(files, key=lambda f: (not f.endswith(".c"), f)):
                if not f.endswith((".c", ".S", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                with open(path, errors="replace") as fh:
                    for n, text in enumerate(fh, 1):
                        if any(all(x.lower() in text.lower() for x in nd) for nd in needles):
                            return "%s:%d" % (os.path.relpath(path, root), n)
    return None


def follow(inp, out, root, elfs):
    """Copy inp to out as it comes (a console: nothing waits for a newline), and after each
    line that ends a report (a backtrace, a guest exception, 'pvlab: exit') print the names
    of its addresses, each once."""
    buf, window, shown = b"", [], set()
    while True:
        chunk = os.read(inp, 4096)
        if not chunk:
            return
        os.write(out, chunk)
        buf += chunk
        *done, buf = buf.split(b"\n")
        for raw in done:
            line = raw.decode(errors="replace").rstrip("\r")
            window = (window + [line])[-40:]
            if BACKTRACE_RE.match(line) or GUEST_EXC_RE.match(line) or line.startswith("pvlab: exit "):
                new = [l for l in where(window, root, elfs=elfs) if l not in shown]
                shown.update(new)
                if new:
                    os.write(out, "".join("where: %s\r\n" % l for l in new).encode())
                window = []


def main(argv):
    """Command line: annotate a log, or (--follow HV_ELF) a console as it runs."""
    root = os.getcwd()
    if argv[:1] == ["--root"]:
        root, argv = os.path.abspath(argv[1]), argv[2:]
    if argv[:1] == ["--follow"]:
        hv = argv[1]
        guest = os.path.join(os.path.dirname(hv), "guest", "guest.elf")
        try:
            follow(0, 1, root, {"hv": hv, "guest": guest})
        except (KeyboardInterrupt, BrokenPipeError):
            pass
        return 0
    lines = open(argv[0], errors="replace").read().split("\n") if argv else sys.stdin.read().split("\n")
    for line in where(lines, root):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
