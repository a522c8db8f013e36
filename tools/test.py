#!/usr/bin/env python3
"""make test: every suite of the project, one closing line.

Suites (each prints its own closing "N passed, N failed" line, which we add up):
  host      unit tests of lib/, kern/frame.c and public/io/ring.h, as host programs (tests/host)
  build     the hypervisor image builds with -Werror
  clang     it builds with clang and ld.lld too, in obj/clang (tools/clang-build; skipped
            without clang)
  grader    the grader's own unit tests (grade/test_gradelib.py)
  launchers tools/bochs's verdict, with a fake Bochs (tests/tools/test_bochs.py)
  system    the hypervisor core's system tests under QEMU (tests/system.json)
  gdb       the GDB commands (tools/gdb/pvlab.py) against a stopped QEMU (tests/system/gdb.py);
            skipped when GDB is missing
  kit       the lab kit's proof: reference full marks; each lab's release fails exactly
            its own tests and passes the earlier labs' (grade/kitcheck.py)
  mutants   the mutant proof: every plausible wrong solution in labs/mutants/labN/ fails a
            test of its lab (grade/mutants.py)
  walk      the course workflow end to end: releases into a course repository, clone, merge,
            hand-in, the Gradescope autograder and the student CI (grade/walkcheck.py)
  bochs     the VMX backend's system tests under Bochs, skipped when no VMX-capable
            bochs is installed
"""
import concurrent.futures
import io
import os
import re
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable or "python3"
JOBS = str(max(1, os.cpu_count() or 1))

SUITES = [
    ("host", ["make", "-s", "-C", "tests/host"]),
    ("build", ["make", "-s", "-j" + JOBS]),
    ("clang", ["tools/clang-build"]),
    ("grader", [PY, "grade/test_gradelib.py"]),
    ("launchers", [PY, "tests/tools/test_bochs.py"]),
    ("system", [PY, "grade/grade.py", "--system"]),
    ("gdb", [PY, "tests/system/gdb.py"]),
    ("kit", [PY, "grade/kitcheck.py"]),
    ("mutants", [PY, "grade/mutants.py"]),
    ("walk", [PY, "grade/walkcheck.py"]),
    ("bochs", [PY, "grade/grade.py", "--system", "--emu", "bochs"]),
]

# In this order, alone, before the others: they need obj/hv.elf, and the system tests'
# CPU-hog witnesses measure real time (a gap of 100 ms fails), so no other suite competes
# with them for the two cores.
FIRST = ("host", "build", "system")
LONGEST = ["mutants", "bochs", "kit", "walk", "system", "gdb", "clang", "grader", "launchers"]
LANES = max(1, int(os.environ.get("PVLAB_TEST_LANES", "2")))

# A suite's closing line ("system: 3 passed, 0 failed"), not a guest's quoted inside a report.
COUNT = re.compile(r"^(?:[\w -]+: )?(\d+) passed, (\d+) failed(?:, (\d+) skipped)?\s*$")
UNITTEST_RAN = re.compile(r"^Ran (\d+) tests?")
UNITTEST_BAD = re.compile(r"^FAILED \((.*)\)")


def run(name, argv, out):
    """Run one suite, writing its output to out (a file); return (passed, failed, skipped)."""
    out.write(f"==> {name}: {' '.join(argv)}\n")
    out.flush()
    start = time.monotonic()
    p = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         stdin=subprocess.DEVNULL, text=True, errors="replace")
    passed = failed = skipped = 0
    counted = False
    ran = None
    for line in p.stdout:
        out.write(line)
        out.flush()
        line = line.rstrip("\n")
        m = COUNT.search(line)
        if m and name not in ("grader", "launchers"):
            passed += int(m.group(1))
            failed += int(m.group(2))
            skipped += int(m.group(3) or 0)
            counted = True
        m = UNITTEST_RAN.match(line)
        if m:
            ran = int(m.group(1))
        m = UNITTEST_BAD.match(line)
        if m and ran is not None:
            bad = sum(int(x) for x in re.findall(r"(?:failures|errors)=(\d+)", m.group(1)))
            passed, failed, counted = ran - bad, bad, True
    rc = p.wait()
    if name in ("grader", "launchers") and ran is not None and not counted:
        passed, counted = ran, True
    if not counted:
        # a suite that prints no count is judged by its exit status: one check
        passed, failed = (1, 0) if rc == 0 else (0, 1)
    elif rc not in (0, 77) and failed == 0:
        failed = 1	# it said all passed but exited non-zero: something else broke
    out.write(f"<== {name}: {passed} passed, {failed} failed, {skipped} skipped"
              f" ({time.monotonic() - start:.1f}s)\n")
    out.flush()
    return passed, failed, skipped


def run_buffered(name, argv, lock):
    """Run one suite beside others: its output is held back and printed whole at its end,
    so that suites never interleave line by line."""
    with lock:
        print(f"... {name}: started", flush=True)
    buf = io.StringIO()
    counts = run(name, argv, buf)
    with lock:
        sys.stdout.write(buf.getvalue())
        sys.stdout.flush()
    return counts


def main():
    """Run the chosen suites (all by default): FIRST in order and alone, then the rest LANES
    at a time (most of them boot QEMU or Bochs on both cores, but a few are mostly waiting,
    so two lanes keep the machine busy), longest first; then the closing count."""
    only = sys.argv[1:]
    chosen = [(n, a) for n, a in SUITES if not only or n in only]
    total = [0, 0, 0]
    for name, argv in chosen:
        if name in FIRST:
            for i, n in enumerate(run(name, argv, sys.stdout)):
                total[i] += n
    rest = sorted((s for s in chosen if s[0] not in FIRST), key=lambda s: LONGEST.index(s[0])
                  if s[0] in LONGEST else len(LONGEST))
    lock = threading.Lock()
    with concurrent.futures.ThreadPoolExecutor(max_workers=LANES) as pool:
        for counts in pool.map(lambda s: run_buffered(s[0], s[1], lock), rest):
            for i, n in enumerate(counts):
                total[i] += n
    print(f"total: {total[0]} passed, {total[1]} failed, {total[2]} skipped")
    sys.exit(1 if total[1] else 0)


if __name__ == "__main__":
    main()
