#!/usr/bin/env python3
"""grade.py: grade pvlab labs by booting each test in QEMU (`make grade`).

  make grade                 every lab up to the one you were given (labs/released.json)
  make grade LAB=1           only lab 1
  make grade TEST=console    only tests whose name matches (globs work: 'cpuid-*')

Each test prints one line, `lab0/cpuid-signature: OK (0.4s)`, or FAIL / CRASH / TIMEOUT
followed by what was wrong, the end of the output, the full log under obj/grade/ and the
commands that rerun it by hand.  The last line is `Score: x/y`; the exit status is 0 only
for full marks.  See docs/KIT.md.
"""
import argparse
import json
import os
import queue
import re
import shlex
import shutil
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gradelib  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class SetupError(Exception):
    """Something to fix before any test can run; the message is one line."""


GUEST_SKIP_RE = re.compile(r"^\(d\d+\) SKIP: ")
# Timeouts are hang guards set for QEMU and Bochs 3.0; Debian's Bochs 2.7 runs the same
# guest code with about 2.5 times the CPU time of Bochs 3.0, so its guards are scaled.
BOCHS_TIMEOUT_SCALE = 3.0


def parse_args(argv):
    """The command line, as an argparse namespace."""
    p = argparse.ArgumentParser(prog="grade.py", description="Grade pvlab labs in QEMU.")
    p.add_argument("--lab", action="append", default=[], metavar="N",
                   help="grade lab N only (repeatable, or N,M); default: every released lab")
    p.add_argument("--test", action="append", default=[], metavar="NAME",
                   help="only tests whose name (or labN/name) matches this glob (repeatable)")
    p.add_argument("--list", action="store_true", help="list the selected tests and exit")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="run N QEMUs at once (default: number of CPUs)")
    p.add_argument("--gradescope", metavar="FILE", help="also write Gradescope's results.json")
    p.add_argument("--timeout-scale", type=float, default=None, metavar="F",
                   help="multiply every test's timeout by F (slow machine; default 1, "
                        "under Bochs %g)" % BOCHS_TIMEOUT_SCALE)
    p.add_argument("-v", "--verbose", action="store_true", help="show every test's full output")
    p.add_argument("--root", default=ROOT, metavar="DIR", help="the tree to grade (default: this one)")
    p.add_argument("--kernel", default="obj/hv.elf", metavar="PATH",
                   help="the image to boot, relative to --root (default: obj/hv.elf)")
    p.add_argument("--hidden", metavar="FILE",
                   help="hidden tests to add (default: labs/hidden.json when it exists)")
    p.add_argument("--system", action="store_true",
                   help="run the hypervisor's system tests (tests/system.json) instead of labs")
    p.add_argument("--emu", default="qemu", metavar="NAME",
                   help="boot through tools/NAME (default: qemu); a launcher exits 77 to skip")
    args = p.parse_args(argv)
    try:
        args.lab = [int(n) for arg in args.lab for n in arg.replace(",", " ").split()]
    except ValueError:
        p.error("--lab takes lab numbers")
    if args.timeout_scale is None:
        args.timeout_scale = BOCHS_TIMEOUT_SCALE if args.emu == "bochs" else 1.0
    if args.jobs < 1 or args.timeout_scale <= 0:
        p.error("-j and --timeout-scale must be positive")
    return args


def choose_tests(args):
    """The tests to run, from the manifest, hidden tests, --lab and --test (or --system)."""
    if args.system:
        tests = gradelib.select_tests(gradelib.load_system(args.root), None, args.test)
        if not tests:
            raise SetupError("no system test matches %s" % " or ".join(map(repr, args.test)))
        return tests
    manifest = gradelib.load_manifest(args.root)
    hidden_path = args.hidden or os.path.join(args.root, "labs", "hidden.json")
    hidden = {}
    if args.hidden or os.path.exists(hidden_path):
        hidden = gradelib.load_hidden(hidden_path, manifest)
    known = sorted(n for n in manifest if n is not None)
    if args.lab:
        for n in args.lab:
            if n not in manifest:
                raise SetupError("no lab %d in labs/manifest.json (labs: %s)"
                                 % (n, ", ".join(map(str, known))))
        labs = set(args.lab)
    else:
        released = gradelib.released_lab(args.root)
        labs = {n for n in known if released is None or n <= released}
    tests = gradelib.select_tests(gradelib.all_tests(manifest, hidden), labs, args.test)
    if not tests:
        raise SetupError("no test matches %s (see 'python3 grade/grade.py --list')"
                         % " or ".join(repr(t) for t in args.test or ["the chosen labs"]))
    return tests


def check_tools(args):
    """Raise SetupError unless QEMU, tools/qemu and the kernel image are all there."""
    qemu = os.environ.get("QEMU", "qemu-system-x86_64")
    if args.emu == "qemu" and not shutil.which(qemu):
        raise SetupError("%s not found: install it with 'sudo apt-get install qemu-system-x86' "
                         "or 'make deps-qemu' (macOS: 'brew install qemu')" % qemu)
    if not os.access(os.path.join(args.root, "tools", args.emu), os.X_OK):
        raise SetupError("%s is missing or not executable" % shown_path(os.path.join(args.root, "tools", args.emu)))
    if not os.path.isfile(args.kernel):
        raise SetupError("%s not found: run 'make' first" % shown_path(args.kernel))


def shown_path(path):
    """path relative to the current directory when it lies below it, else as given."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def run_parallel(tests, jobs, run_one, report):
    """Run run_one(test) on up to `jobs` threads; call report(outcome) in test order, each as
    soon as it and all before it are done.  Returns the outcomes in test order."""
    outcomes = [None] * len(tests)
    done = queue.Queue()
    todo = iter(range(len(tests)))
    lock = threading.Lock()

    def worker():
        """Take the next test index and run it, until none are left or we are stopped."""
        while True:
            with lock:
                i = next(todo, None)
            if i is None:
                return
            try:
                done.put((i, run_one(tests[i])))
            except gradelib.Interrupted:
                return
            except BaseException as e:  # a bug: hand it to the main thread
                done.put((i, e))

    for _ in range(min(jobs, len(tests))):
        threading.Thread(target=worker, daemon=True).start()
    shown = 0
    for _ in tests:
        i, result = done.get()
        if isinstance(result, BaseException):
            raise result
        outcomes[i] = result
        while shown < len(tests) and outcomes[shown] is not None:
            report(outcomes[shown])
            shown += 1
    return outcomes


def printer(args):
    """A report(outcome) function that prints a test's headline and, if it failed, why."""
    same_dir = os.path.realpath(args.root) == os.path.realpath(os.getcwd())
    root_arg = "" if same_dir else "-C %s " % shlex.quote(shown_path(args.root))

    last_skip = []

    def report(o):
        """Print one finished test."""
        print(o.headline())
        if args.verbose:
            print("    $ tools/%s %s %s" % (args.emu, shown_path(args.kernel), gradelib.shell_args(o.test)))
            for line in o.run.lines:
                print("    | " + line)
        if o.verdict == "SKIP":     # the launcher's one line says why (once is enough)
            if last_skip != o.problems[:1]:
                print("    " + o.problems[0])
            last_skip[:] = o.problems[:1]
        elif not o.ok:
            for line in gradelib.failure_report(o, root_arg, shown_path(o.log)):
                print("    " + line)
        else:               # a check a domain could not run here (an emulator's deviation)
            for line in o.run.lines:
                if GUEST_SKIP_RE.match(line):
                    print("    " + line)
        sys.stdout.flush()
    return report


def write_gradescope(path, results):
    """Write Gradescope's results.json."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


def fmt(x):
    """A point count without a needless '.0'."""
    return "%g" % x


def grade(args):
    """Run the chosen tests and print the score; returns the exit status."""
    tests = choose_tests(args)
    if args.list:
        for t in tests:
            print("%-32s %4s pts  %s%s" % (t.id, fmt(t.points), t.append(), "  (hidden)" if t.hidden else ""))
        return 0
    args.kernel = os.path.join(args.root, args.kernel)
    launcher = os.path.join(args.root, "tools", args.emu)
    if args.emu != "qemu" and not os.path.exists(launcher):
        print("grade: no %s launcher: skipping %d tests" % (shown_path(launcher), len(tests)))
        print("%s: 0 passed, 0 failed, %d skipped" % ("system" if args.system else "grade", len(tests)))
        return gradelib.SKIP_STATUS
    # A system test may run under some emulators only: say so, and count it as skipped.
    elsewhere = [t for t in tests if t.emulators and args.emu not in t.emulators]
    for t in elsewhere:
        print("%s: SKIP (runs under %s only)" % (t.id, ", ".join(t.emulators)))
    tests = [t for t in tests if t not in elsewhere]
    if not tests:
        print("%s: 0 passed, 0 failed, %d skipped" % ("system" if args.system else "grade", len(elsewhere)))
        return gradelib.SKIP_STATUS
    check_tools(args)
    start = time.monotonic()
    outcomes = run_parallel(
        tests, args.jobs,
        lambda t: gradelib.run_test(t, args.root, args.kernel, args.timeout_scale, emu=args.emu),
        printer(args))
    if args.system:
        return system_summary(outcomes, len(elsewhere))
    score = sum(o.score for o in outcomes)
    total = sum(t.points for t in tests)
    print("Score: %s/%s" % (fmt(score), fmt(total)))
    if args.gradescope:
        write_gradescope(args.gradescope, gradelib.gradescope_results(outcomes, time.monotonic() - start))
    return 0 if score == total else 1


def system_summary(outcomes, elsewhere=0):
    """Print the closing count of a --system run (elsewhere: tests skipped for running under
    other emulators only); the exit status (0 unless one failed)."""
    skipped = sum(o.verdict == "SKIP" for o in outcomes) + elsewhere
    passed = sum(o.ok for o in outcomes)
    failed = len(outcomes) - passed - (skipped - elsewhere)
    print("system: %d passed, %d failed%s" % (passed, failed, ", %d skipped" % skipped if skipped else ""))
    if skipped == len(outcomes) + elsewhere:
        return gradelib.SKIP_STATUS
    return 1 if failed else 0


def _terminate(signum, frame):
    """SIGTERM/SIGHUP: unwind like Ctrl-C so that every QEMU is killed."""
    raise KeyboardInterrupt()


def main(argv=None):
    """Entry point: grade, turning setup problems into one line and Ctrl-C into status 130."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    args.root = os.path.abspath(args.root)
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    try:
        return grade(args)
    except (SetupError, gradelib.ManifestError) as e:
        lines = e.errors if isinstance(e, gradelib.ManifestError) else [str(e)]
        for line in lines:
            print("grade: " + line, file=sys.stderr)
        if args.gradescope:
            write_gradescope(args.gradescope, {"score": 0.0, "output": "\n".join(lines), "tests": []})
        return 2
    except KeyboardInterrupt:
        n = gradelib.kill_all()
        print("\ngrade: interrupted; killed %d running QEMU%s" % (n, "" if n == 1 else "s"),
              file=sys.stderr)
        return 130
    except BrokenPipeError:         # 'make grade | head': the reader left; stop quietly
        gradelib.kill_all()
        sys.stderr.close()
        return 1


if __name__ == "__main__":
    sys.exit(main())
