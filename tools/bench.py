#!/usr/bin/env python3
"""make bench [EMU=bochs]: boot benchmark guests and print measured costs as ratios (never
asserted).

Each in-guest benchmark prints "BENCH <name> <cycles per op>"; the hypervisor's banner gives
the TSC rate, so cycles turn into microseconds and operations per second.  The hypercall
benchmarks are also timed by the wall clock, from when their lines arrive: under Bochs the
TSC counts emulated instructions, so only the wall clock shows what an exit really costs.

  tools/bench.py [--emu NAME]    boot through tools/NAME (default: qemu)"""
import os
import re
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KERNEL = os.path.join(ROOT, "obj", "hv.elf")
N = 20000       # operations per hypercall benchmark (N in guest/tests/bench.c)


def run(emu, append):
    """Boot once; return (lines, arrival time of each line, seconds until the first guest
    line, total seconds)."""
    start = time.monotonic()
    first = None
    lines, times = [], []
    p = subprocess.Popen([os.path.join(ROOT, "tools", emu), KERNEL, append],
                         stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                         errors="replace", start_new_session=True)
    try:
        for line in p.stdout:
            line = line.rstrip("\r\n")
            if first is None and line.startswith("(d0) "):
                first = time.monotonic() - start
            lines.append(line)
            times.append(time.monotonic())
        p.wait(timeout=120)
    finally:
        if p.poll() is None:
            os.killpg(p.pid, 9)
    return lines, times, first, time.monotonic() - start


def wall_us(lines, times, after, name):
    """Wall-clock microseconds per operation of benchmark `name`: the time between the line
    matching `after` and its BENCH line, over N operations (None if either is missing)."""
    t0 = next((t for l, t in zip(lines, times) if re.search(after, l)), None)
    t1 = next((t for l, t in zip(lines, times) if l.split()[1:3] == ["BENCH", name]), None)
    return (t1 - t0) * 1e6 / N if t0 and t1 and t1 > t0 else None


def results(lines):
    """Map benchmark name -> cycles per op, and the TSC rate in MHz."""
    mhz = None
    bench = {}
    for line in lines:
        m = re.search(r"TSC (\d+\.\d+) MHz", line)
        if m:
            mhz = float(m.group(1))
        m = re.match(r"\(d\d+\) BENCH (\S+) (\d+)$", line)
        if m:
            bench[m.group(1)] = int(m.group(2))
    return bench, mhz


def row(name, cycles, mhz, base=None, base_name=""):
    """One table line: cycles, microseconds, operations per second, ratio to base."""
    us = cycles / mhz
    ratio = f"{cycles / base:8.3g}x {base_name}" if base else ""
    print(f"  {name:<22} {cycles:>9} cycles {us:9.2f} us {1e6 / us:>11,.0f}/s  {ratio}")


def lab_done(bench, lab, *names):
    """Did the guest report every benchmark in names?  If not, say which are missing (the
    guest stopped at a stub of that lab) instead of failing on the first."""
    missing = [n for n in names if n not in bench]
    if missing:
        print(f"lab {lab}: not measured ({', '.join(missing)} missing: is lab {lab} done?)")
    return not missing


def main():
    emu = "qemu"
    if sys.argv[1:2] == ["--emu"] and len(sys.argv) == 3:
        emu = sys.argv[2]
    elif sys.argv[1:]:
        sys.exit("usage: tools/bench.py [--emu NAME]")
    if not os.path.exists(KERNEL):
        sys.exit("bench: no obj/hv.elf: run make first")
    lines, times, first, total = run(emu, "-- test=bench-hypercall,bench-paging,bench-time,bench-fpu,bench-events,bench-balloon")
    bench, mhz = results(lines)
    if "burst-event" in bench:  # lab 4 is in: a second boot, two domains
        more, _ = results(run(emu, "-- test=bench-pingpong -- test=bench-pingpong")[0])
        bench.update(more)
        more, _ = results(run(emu, "-- test=bench-grants -- test=bench-grants")[0])
        bench.update(more)  # lab 5's, if it is in
        more, _ = results(run(emu, "-- test=bench-ring")[0])     # lab 6 (absent: no rows)
        bench.update(more)
    if not mhz or "null-hypercall" not in bench:
        print("\n".join(lines[-20:]))
        if lines and lines[-1].endswith("skipping"):
            sys.exit(0)
        sys.exit("bench: the benchmark guest did not report (is lab 1 done?)")
    print(f"pvlab benchmarks under {emu} (one run; TSC {mhz:.0f} MHz; ratios are what to compare)")
    print(f"  boot: {emu} start -> first guest line {first:.3f} s, whole run {total:.3f} s")
    print("lab 1: hypercalls")
    bare = bench["bare-exit"]
    row("bare exit (VM exit)", bare, mhz)
    row("null hypercall", bench["null-hypercall"], mhz, bare, "of a bare exit")
    row("multicall, per entry", bench["multicall-entry"], mhz, bench["null-hypercall"],
        "of a single hypercall")
    for label, name, after in (("bare exit", "bare-exit", r"^\(d0\) TEST bench-hypercall"),
                               ("null hypercall", "null-hypercall", r"^\(d0\) BENCH bare-exit")):
        us = wall_us(lines, times, after, name)
        if us:
            print(f"  {label:<22} {'':>16} {us:9.2f} us {1e6 / us:>11,.0f}/s  "
                  "wall clock (from line arrival times)")
    if lab_done(bench, 2, "pte-single-mmu_update", "pte-batched-512", "pte-update_va_mapping",
                "address-space-switch"):
        print("lab 2: page tables (per PTE)")
        single = bench["pte-single-mmu_update"]
        row("512 single mmu_update", single, mhz)
        row("one batch of 512", bench["pte-batched-512"], mhz, single, "of single")
        row("update_va_mapping", bench["pte-update_va_mapping"], mhz, single, "of single")
        row("address-space switch", bench["address-space-switch"], mhz, bench["null-hypercall"],
            "of a null hypercall")
    if lab_done(bench, 3, "time-hypercall", "time-shared-info"):
        print("lab 3: reading the time")
        hc = bench["time-hypercall"]
        row("by hypercall", hc, mhz)
        row("from shared info", bench["time-shared-info"], mhz, hc, "of a hypercall")
    if "fpu-switch" in bench:
        print("FPU/SSE state, switched eagerly at each change of domain (hv/fpu.c)")
        y = bench["yield-same-domain"]
        row("yield, same domain", y, mhz)
        row("FPU save + restore", bench["fpu-switch"], mhz, y, "of a yield")
    if "burst-event" in bench:
        print("lab 4: event channels")
        null = bench["null-hypercall"]
        if "roundtrip-upcall" in bench:
            row("round trip, upcall", bench["roundtrip-upcall"], mhz, null, "of a null hypercall")
            row("round trip, poll", bench["roundtrip-poll"], mhz, bench["roundtrip-upcall"],
                "of block + upcall")
        single = bench["single-event"]
        row("event alone", single, mhz, null, "of a null hypercall")
        row("event in a burst of 64", bench["burst-event"], mhz, single, "of an event alone")
        print(f"  {'events per upcall':<22} {bench['events-per-upcall']:>9} (bursts of 64 sent with interrupts off)")
    if "grant-copy-page" in bench:
        print("lab 5: grant tables (per 4 KiB page)")
        copy = bench["grant-copy-page"]
        row("grant copy", copy, mhz)
        row("map + read + unmap", bench["grant-map-read-unmap"], mhz, copy, "of a copy")
        single = bench["grant-map-single"]
        row("map+unmap, one a call", single, mhz)
        row("map+unmap, 16 a call", bench["grant-map-batched"], mhz, single, "of one a call")
    if "ring-64-burst" in bench:
        print("lab 6: a shared ring in one domain (loopback channel; backend copies each frame)")
        base = bench["ring-64-burst"]
        for label, name in (("64 B, bursts of 32", "ring-64-burst"),
                            ("64 B, notify every push", "ring-64-every"),
                            ("64 B, one per push", "ring-64-single"),
                            ("4 KiB, bursts of 32", "ring-4096-burst")):
            if name in bench:
                row(label, bench[name], mhz, base if name != "ring-64-burst" else None,
                    "of 64 B in bursts")
                print(f"  {'':<22} {bench[name + '-events']:>9} events per 1000 frames")
    lab6_net(emu, mhz)
    if "decrease-single" in bench:
        print("lab 7: giving pages back (per page)")
        single = bench["decrease-single"]
        row("512 single extents", single, mhz)
        row("one list of 512", bench["decrease-batch-512"], mhz, single, "of single")
        if "decrease-order-9" in bench:
            row("one order-9 extent", bench["decrease-order-9"], mhz, bench["decrease-batch-512"],
                "of 512 order-0")
        drv = bench["balloon-inflate-single"]
        row("balloon, page by page", drv, mhz)
        row("balloon, one batch", bench["balloon-inflate-batch"], mhz, drv, "of page by page")
    lab8(emu, mhz)


def lab6_vif(emu):
    """Lab 6's PV network device, d1 -> dom0 -> d2 (one boot per configuration): a dict
    tag -> (cycles per frame, VM exits per frame, events per frame), {} if lab 6 is not done."""
    out = {}
    for tag, size, always in (("64", 64, 0), ("4096", 4096, 0), ("64-always", 64, 1)):
        lines = run(emu, f"-- test=vif-backend vifs=1,2 tag={tag} always={always} -- "
                         f"test=bench-vif-send peer=2 size={size} tag={tag} always={always} -- "
                         f"test=bench-vif-recv peer=1 size={size} tag={tag} always={always}")[0]
        b = results(lines)[0]
        n = 1000 if size > 1024 else 4000
        events = [b.get(f"vif-{tag}-events-d{d}") for d in (0, 1, 2)]
        if f"vif-{tag}-cycles" not in b or None in events:
            return {}
        out[tag] = (b[f"vif-{tag}-cycles"], b[f"vif-{tag}-exits100"] / 100, sum(events) / n)
    return out


def lab6_net(emu, mhz):
    """Lab 6: the seed's claim measured -- the PV split driver against the same frames through
    the emulated NIC (every register access a VM exit), one table; then the PV ring's events
    per frame with and without event-index suppression."""
    pv = lab6_vif(emu)
    rows = [{"transport": label, "size": int(tag.split("-")[0]), "cycles": pv[tag][0],
             "frames_per_s": mhz * 1e6 / pv[tag][0], "exits_per_frame": pv[tag][1]}
            for tag, label in (("64", "PV ring"), ("4096", "PV ring"),
                               ("64-always", "PV, no suppr.")) if tag in pv]
    lab6_nic(emu, mhz, rows)
    if not pv:
        print("lab 6: PV ring: not measured (is lab 6 done?)")
        return
    print("lab 6: PV ring, events sent per frame (all three domains)")
    for tag, label in (("64", "64 B, event indices"), ("4096", "4 KiB, event indices"),
                       ("64-always", "64 B, notify always")):
        print(f"  {label:<22} {pv[tag][2]:9.3f}")


def lab6_nic(emu, mhz, pv_rows=()):
    """Lab 6: frames from d1 to d2 through the emulated NIC (guest/tests/bench_emunic.c, one
    boot), printed as one table with any PV rows given (dicts like the ones returned, with
    their own "transport"); ratio = frames/s over the emulated NIC's at the same size.
    Returns {frame size: {"transport", "size", "cycles", "frames_per_s", "exits_per_frame"}}
    for the emulated rows ({} if the guest did not report)."""
    lines = run(emu, "-- test=bench-emunic -- test=bench-emunic role=send peer=2 "
                     "-- test=bench-emunic role=recv peer=1")[0]
    bench = results(lines)[0]
    emulated = {}
    for size in (64, 4096):
        name = f"emunic-{size}"
        if name in bench and name + "-exits" in bench and bench[name]:
            emulated[size] = {"transport": "emulated NIC", "size": size, "cycles": bench[name],
                              "frames_per_s": mhz * 1e6 / bench[name],
                              "exits_per_frame": bench[name + "-exits"] / 1000}
    if not emulated:
        print("lab 6: PV ring vs emulated NIC: not measured (the emulated NIC's bench did not report)")
        return emulated
    print("lab 6: PV ring vs emulated NIC (d1 -> d2; ratio: frames/s over the emulated NIC's)")
    print(f"  {'transport':<16} {'frame':>7} {'frames/s':>11} {'exits/frame':>12} {'ratio':>9}")
    for r in sorted([*emulated.values(), *pv_rows], key=lambda r: (r["size"], r["transport"])):
        base = emulated.get(r["size"])
        ratio = f"{r['frames_per_s'] / base['frames_per_s']:8.3g}x" if base else ""
        print(f"  {r['transport']:<16} {r['size']:>5} B {r['frames_per_s']:>11,.0f} "
              f"{r['exits_per_frame']:>12.1f} {ratio:>9}")
    return emulated


def lab8(emu, mhz):
    """Lab 8: FPU switching, eager vs lazy, between domains and between guest threads (one
    boot per configuration: the mode is a hypervisor option)."""
    switch = {}
    for mode in ("eager", "lazy"):
        for use in ("0", "1"):
            lines = run(emu, f"fpu={mode} -- test=bench-fpu-switch use={use} -- "
                             f"test=bench-fpu-peer use={use}")[0]
            for name, cycles in results(lines)[0].items():
                switch[(mode, name)] = cycles
    threads = results(run(emu, "fpu=lazy -- test=bench-fpu-threads")[0])[0]
    base = switch.get(("eager", "fpu-switch-unused"))
    if not base or "nm-round-trip" not in threads:
        print("lab 8: (no results: is lab 8 done?)")
        return
    print("lab 8: FPU switching (domains: a round trip, two switches; threads: one switch;"
          " FPU used or unused after each; best of 50 batches)")
    for mode, name, label in (("eager", "fpu-switch-unused", "domains eager, unused"),
                              ("lazy", "fpu-switch-unused", "domains lazy, unused"),
                              ("eager", "fpu-switch-used", "domains eager, used"),
                              ("lazy", "fpu-switch-used", "domains lazy, used")):
        if (mode, name) in switch:
            row(label, switch[(mode, name)], mhz, base, "of eager, unused")
            exits = switch.get((mode, name + "-exits"))
            if exits is not None:
                print(f"  {'':<22} {exits / 100:9.2f} VM exits of this domain per round trip")
    eager = threads["thread-eager"]
    row("threads eager (guest)", eager, mhz)
    row("threads lazy, unused", threads["thread-lazy-unused"], mhz, eager, "of eager in guest")
    row("threads lazy, used", threads["thread-lazy-used"], mhz, eager, "of eager in guest")
    row("guest #NM round trip", threads["nm-round-trip"], mhz, threads["fpu-null-hypercall"],
        "of a null hypercall")


if __name__ == "__main__":
    main()
