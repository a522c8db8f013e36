#!/usr/bin/env python3
"""mutants.py: the mutant proof -- every plausible wrong solution of a lab fails a test.

A mutant is labs/mutants/labN/NAME.patch: the first line is "# " plus one sentence saying
what the mistake gets wrong, the rest a unified diff against the reference tree (as `git
diff` prints it).  For each mutant we apply it with `patch -p1` to a copy of the reference,
rebuild (make's incremental build recompiles only the patched files), and run lab N's
tests, public and hidden, one at a time until one fails.  The mutant is *caught* if one
does; a mutant that survives every test, no longer applies, or does not build is a failure
of this proof.

  python3 grade/mutants.py                    every lab's mutants
  python3 grade/mutants.py --lab 2            lab 2's only
  python3 grade/mutants.py --lab 2 --only NAME -v   one mutant, with the catching test's report

Each worker (-j, default: the number of CPUs) has its own copy of the tree, built once and
patched, rebuilt and restored mutant by mutant.  Tests run in the order most likely to
catch first: the test that caught the mutant last time (remembered in
obj/mutants-caught.json, else as recorded in labs/mutants/caught.json, which --record
rewrites), then the lab's tests in manifest order.  One line per mutant,
a count per lab, and `mutants: N passed, N failed`; exit status 1 on any failure.
See docs/KIT.md ("The mutant proof").
"""
import argparse
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import queue

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "grade"))
sys.path.insert(0, os.path.join(ROOT, "labs"))
import gradelib  # noqa: E402
from check_markers import tracked_files  # noqa: E402

PATCHED = re.compile(r"^\+\+\+ (?:b/)?(\S+)")


class Mutant:
    """One patch file: its lab, name, one-line description and the files it changes."""

    def __init__(self, root, path):
        self.path = path
        self.lab = int(os.path.basename(os.path.dirname(path))[3:])
        self.name = os.path.basename(path)[:-len(".patch")]
        self.id = "lab%d/%s" % (self.lab, self.name)
        with open(path, encoding="utf-8") as f:
            self.text = f.read()
        first = self.text.split("\n", 1)[0]
        self.what = first[2:].strip() if first.startswith("# ") else None
        self.files = [m.group(1) for m in map(PATCHED.match, self.text.split("\n"))
                      if m and m.group(1) != "/dev/null"]


def find_mutants(root, labs, only):
    """The mutants under root/labs/mutants, of the given labs (all if empty), named in only
    (all if empty), sorted by lab and name."""
    found = []
    for path in sorted(glob.glob(os.path.join(root, "labs", "mutants", "lab*", "*.patch"))):
        if not re.match(r"lab\d+$", os.path.basename(os.path.dirname(path))):
            continue
        m = Mutant(root, path)
        if (not labs or m.lab in labs) and (not only or m.name in only or m.id in only):
            found.append(m)
    return sorted(found, key=lambda m: (m.lab, m.name))


def make_tree(root, dest, files):
    """Copy root's tracked files (with uncommitted edits) to dest, keeping their times."""
    for f in files:
        src = os.path.join(root, f)
        if not os.path.isfile(src) or f.startswith("labs/mutants/"):
            continue
        os.makedirs(os.path.dirname(os.path.join(dest, f)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, f))


def run(cmd, cwd, stdin=None):
    """Run cmd in cwd: (status, combined output)."""
    p = subprocess.run(cmd, cwd=cwd, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    return p.returncode, p.stdout


def build(tree, jobs=1):
    """make in tree: (ok, output)."""
    status, out = run(["make", "-s", "-j%d" % jobs], tree)
    return status == 0, out


class Result:
    """What happened to one mutant: verdict CAUGHT, SURVIVED, NOAPPLY or NOBUILD."""

    def __init__(self, mutant, verdict, detail="", outcome=None, ran=0):
        self.mutant, self.verdict, self.detail, self.outcome, self.ran = mutant, verdict, detail, outcome, ran

    @property
    def ok(self):
        return self.verdict == "CAUGHT"

    def line(self):
        m = self.mutant
        if self.verdict == "CAUGHT":
            o = self.outcome
            return "%s: caught by %s (%s, test %d)" % (m.id, o.test.id, o.verdict, self.ran)
        if self.verdict == "SURVIVED":
            return "%s: SURVIVED all %d tests of lab %d: %s" % (m.id, self.ran, m.lab, m.what)
        return "%s: %s: %s" % (m.id, self.verdict, self.detail)


def try_mutant(m, tree, root, tests, hint, scale):
    """Apply m to tree, rebuild, run tests until one fails; restore tree.  A Result."""
    try:
        status, out = run(["patch", "-p1", "--batch", "--forward", "--no-backup-if-mismatch",
                           "--reject-file=-"], tree, stdin=m.text)
        if status != 0:
            return Result(m, "NOAPPLY", "%s no longer applies to the reference:\n%s"
                          % (os.path.relpath(m.path, root), indent(out)))
        ok, out = build(tree)
        if not ok:
            return Result(m, "NOBUILD", "%s does not build:\n%s"
                          % (os.path.relpath(m.path, root), indent(out)))
        order = sorted(tests, key=lambda t: t.id != hint)
        logdir = os.path.join(tree, "obj", "grade", m.name)
        for i, t in enumerate(order, 1):
            o = gradelib.run_test(t, tree, os.path.join(tree, "obj", "hv.elf"), scale, logdir=logdir)
            if not o.ok:
                return Result(m, "CAUGHT", outcome=o, ran=i)
        return Result(m, "SURVIVED", ran=len(order))
    finally:
        restore(m, tree, root)


def restore(m, tree, root):
    """Put the files m touched back as in the reference (a fresh mtime: make rebuilds them)."""
    for f in m.files:
        src, dst = os.path.join(root, f), os.path.join(tree, f)
        if os.path.isfile(src):
            shutil.copyfile(src, dst)
        elif os.path.exists(dst):
            os.unlink(dst)


def indent(text, n=12):
    """The last n lines of text, indented."""
    return "\n".join("      " + l for l in text.rstrip().split("\n")[-n:])


def load_cache(path):
    """{mutant id: test id that caught it last time} (empty if unreadable)."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def save_cache(path, cache):
    """Write the cache, ignoring a read-only tree."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(cache, f, indent=1, sort_keys=True)
            f.write("\n")
    except OSError:
        pass


def lab_tests(root):
    """{lab: [its tests, public then hidden]} from the manifest and labs/hidden.json."""
    manifest = gradelib.load_manifest(root)
    hidden_path = os.path.join(root, "labs", "hidden.json")
    hidden = gradelib.load_hidden(hidden_path, manifest) if os.path.exists(hidden_path) else {}
    by_lab = {}
    for t in gradelib.all_tests(manifest, hidden):
        by_lab.setdefault(t.lab, []).append(t)
    return by_lab


def report(r, verbose):
    """Print one mutant's line (and with verbose, the catching test's report)."""
    print(r.line())
    if verbose and r.outcome is not None:
        for line in gradelib.failure_report(r.outcome, log_shown=r.outcome.log):
            print("    " + line)
    sys.stdout.flush()


def main(argv):
    """Prove every chosen mutant caught; exit status 1 otherwise."""
    p = argparse.ArgumentParser(prog="mutants.py", description="The mutant proof of the labs.")
    p.add_argument("--lab", type=int, action="append", default=[], help="only lab N's mutants (repeatable)")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="only the mutant NAME (or labN/NAME) (repeatable)")
    p.add_argument("-j", "--jobs", type=int, default=min(2, os.cpu_count() or 1),
                   help="mutants at once, each in its own tree (default 2)")
    p.add_argument("-v", "--verbose", action="store_true", help="show the catching test's report")
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="F")
    p.add_argument("--keep", action="store_true", help="keep the work trees and their logs")
    p.add_argument("--root", default=ROOT, help="the reference tree (default: this one)")
    p.add_argument("--record", action="store_true",
                   help="rewrite labs/mutants/caught.json (which test caught each mutant: the order hint)")
    args = p.parse_args(argv)
    root = os.path.abspath(args.root)
    mutants = find_mutants(root, args.lab, args.only)
    if not mutants:
        print("mutants: no mutant matches (labs/mutants/labN/NAME.patch)")
        print("mutants: 0 passed, 1 failed")
        return 1
    tests = lab_tests(root)
    cache_path = os.path.join(root, "obj", "mutants-caught.json")
    record_path = os.path.join(root, "labs", "mutants", "caught.json")
    cache = dict(load_cache(record_path), **load_cache(cache_path))
    results, bad_headers = [], [m for m in mutants if not m.what or not m.files]
    for m in bad_headers:
        results.append(Result(m, "MALFORMED", "the first line must be '# what it gets wrong' "
                              "and the rest a diff (%s)" % os.path.relpath(m.path, root)))
        report(results[-1], args.verbose)
    todo = queue.Queue()
    for m in mutants:
        if m not in bad_headers:
            todo.put(m)
    work = tempfile.mkdtemp(prefix="pvlab-mutants-")
    lock = threading.Lock()
    files = tracked_files(root)
    failures = []

    def worker(k):
        """Build a tree, then take mutants off the queue until it is empty."""
        tree = os.path.join(work, "w%d" % k)
        make_tree(root, tree, files)
        ok, out = build(tree)
        if not ok:
            with lock:
                failures.append("the reference copy does not build:\n" + indent(out))
            return
        while True:
            try:
                m = todo.get_nowait()
            except queue.Empty:
                return
            r = try_mutant(m, tree, root, tests.get(m.lab, []), cache.get(m.id), args.timeout_scale)
            with lock:
                results.append(r)
                if r.ok:
                    cache[m.id] = r.outcome.test.id
                report(r, args.verbose)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True)
               for k in range(max(1, min(args.jobs, todo.qsize())))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    except KeyboardInterrupt:
        gradelib.kill_all()
        print("\nmutants: interrupted", file=sys.stderr)
        return 130
    finally:
        if args.keep:
            print("mutants: work trees kept in " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    save_cache(cache_path, cache)
    if args.record:
        caught = {r.mutant.id: r.outcome.test.id for r in results if r.ok}
        alive = {m.id for m in find_mutants(root, [], [])}	# a removed mutant's entry goes
        kept = {k: v for k, v in load_cache(record_path).items() if k in alive}
        save_cache(record_path, dict(kept, **caught))
    for f in failures:
        print("FAIL: " + f)
    for lab in sorted({m.lab for m in mutants}):
        mine = [r for r in results if r.mutant.lab == lab]
        caught = sum(r.ok for r in mine)
        print("lab %d: %d of %d mutants caught%s" % (lab, caught, len(mine),
              "" if caught == len(mine) else "; not: " + ", ".join(r.mutant.name for r in mine if not r.ok)))
    passed = sum(r.ok for r in results)
    failed = len(mutants) - passed + len(failures)
    print("mutants: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
