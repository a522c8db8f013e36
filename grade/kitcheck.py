#!/usr/bin/env python3
"""kitcheck.py: the lab kit's proof that its labs are gradable (part of `make test`).

  (a) the SOLUTION markers agree with labs/manifest.json;
  (b) the reference tree builds and earns full marks, hidden tests included;
  (c) for every lab N: the lab N release is made, committed and builds; its own `make grade`
      grades labs 0..N only; every test of lab N fails there, its failure report names a
      lab N stub (">>> ... lab N: NAME not implemented"), and every test of lab N-1 passes.

Why lab N-1 only: the release of lab N carries the stubs of *every* later lab, so it is the
hardest tree lab N-1's tests must pass on; the reference (every solution) is the easiest.
Grading labs 0..N-2 again in every release would make the proof grow with the square of
the number of labs (nine labs: about five times the QEMU runs) for no new case.

One line per check, `PASS: <what>` or `FAIL: <what>: <why>`, then `kitcheck: N passed,
N failed`; the exit status is 1 on any failure.  Releases go to a temporary directory that
is removed at the end (--keep leaves it).
"""
import argparse
import concurrent.futures
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "grade"))
sys.path.insert(0, os.path.join(ROOT, "labs"))
import check_markers  # noqa: E402
import gradelib  # noqa: E402
import release  # noqa: E402


class Tally:
    """Counts and prints the checks (or, with buffered, keeps the lines for add())."""

    def __init__(self, buffered=False):
        self.passed = self.failed = 0
        self.lines = [] if buffered else None

    def check(self, ok, what, why=""):
        """Print 'PASS: what' or 'FAIL: what: why' and count it; returns ok."""
        if ok:
            self.passed += 1
            line = "PASS: " + what
        else:
            self.failed += 1
            line = "FAIL: %s: %s" % (what, why)
        if self.lines is None:
            print(line)
            sys.stdout.flush()
        else:
            self.lines.append(line)
        return ok

    def add(self, other):
        """Print and count the checks a buffered tally kept."""
        for line in other.lines:
            print(line)
        sys.stdout.flush()
        self.passed += other.passed
        self.failed += other.failed


def run_child(cmd, **kw):
    """Run cmd capturing stdout+stderr; on Ctrl-C or SIGTERM stop it (grade.py then kills its
    QEMUs) before passing the interrupt on.  Returns (status, output)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            universal_newlines=True, **kw)
    try:
        out, _ = proc.communicate()
    except BaseException:
        proc.terminate()
        proc.wait()
        raise
    return proc.returncode, out


def tail(text, n=8):
    """The last n lines of text, indented, after a newline (for a FAIL line)."""
    lines = text.rstrip().split("\n")[-n:]
    return "\n" + "\n".join("    " + l for l in lines)


def grade_cmd(tree, hidden, labs):
    """The command line of tree's own grade.py (all its released labs unless labs)."""
    cmd = [sys.executable, os.path.join(tree, "grade", "grade.py"), "--root", tree]
    if hidden:
        cmd += ["--hidden", hidden]
    if labs:
        cmd += ["--lab", ",".join(map(str, labs))]
    return cmd


def listed_tree(tree, hidden):
    """The test ids tree's own `make grade` would run (grade.py --list): (set, error)."""
    status, out = run_child(grade_cmd(tree, hidden, None) + ["--list"])
    if status != 0:
        return set(), "grade.py --list failed (status %d):%s" % (status, tail(out))
    return {l.split()[0] for l in out.splitlines() if l.strip()}, None


def grade_tree(tree, jobs, scale, hidden, labs=None):
    """Grade tree with its own grade.py: ({test id: Gradescope test dict}, error or None)."""
    fd, out_json = tempfile.mkstemp(prefix="kitcheck-", suffix=".json")
    os.close(fd)
    try:
        cmd = grade_cmd(tree, hidden, labs) + ["-j", str(jobs), "--timeout-scale", str(scale),
                                               "--gradescope", out_json]
        status, out = run_child(cmd)
        try:
            with open(out_json, encoding="utf-8") as f:
                results = json.load(f)
        except (OSError, ValueError):
            return {}, "grade.py wrote no results (status %d):%s" % (status, tail(out))
        if status not in (0, 1) or not results.get("tests"):
            return {}, "grade.py failed (status %d):%s" % (status, tail(out))
        return {t["name"]: t for t in results["tests"]}, None
    finally:
        os.unlink(out_json)


def why_failed(t):
    """A short reason from a Gradescope test dict: its headline and first problems."""
    lines = t["output"].split("\n")
    return "; ".join(l.strip() for l in lines[:4])


def names_stub(output, lab):
    """Does a failure report point at a stub of lab, ">>> ... lab N: NAME not implemented"?"""
    return re.search(r"^\s*>>> .*\blab %d: \S+ not implemented" % lab, output, re.M) is not None


def check_reference(tally, root, jobs, scale, hidden):
    """(b): build the reference tree and check that every test passes."""
    status, out = run_child(["make", "-C", root, "-j%d" % jobs])
    if not tally.check(status == 0, "reference tree builds", "make failed:" + tail(out)):
        return
    results, err = grade_tree(root, jobs, scale, hidden)
    if not tally.check(err is None, "reference tree is graded", err):
        return
    for name, t in results.items():
        tally.check(t["status"] == "passed", "reference: %s passes" % name, why_failed(t))


def expected_ids(manifest, hidden, lab):
    """The ids of the tests a lab `lab` release must grade: labs 0..lab, hidden included."""
    tests = gradelib.all_tests(manifest, hidden)
    return {t.id for t in tests if t.lab <= lab}, {t.id: t.lab for t in tests}


def check_release(tally, root, lab, workdir, jobs, scale, hidden_path):
    """(c) for one lab: make the release, then grade it and check pass/fail lab by lab."""
    dest = os.path.join(workdir, "lab%d" % lab)
    what = "lab %d release" % lab
    try:
        release.make_release(root, lab, dest, jobs=jobs, log=lambda msg: None)
    except (release.ReleaseError, gradelib.ManifestError) as e:
        tally.check(False, what + " is made, committed and builds", str(e))
        return
    tally.check(True, what + " is made, committed and builds")
    manifest = gradelib.load_manifest(root)
    patterns = manifest[None].get("instructor_only", [])
    shipped = [f for f in check_markers.tracked_files(dest) if release.is_instructor_only(f, patterns)]
    tally.check(not shipped, what + " ships no instructor-only file", ", ".join(shipped))
    hidden = gradelib.load_hidden(hidden_path, manifest) if hidden_path else {}
    want, lab_of = expected_ids(manifest, hidden, lab)
    listed, err = listed_tree(dest, hidden_path)
    tally.check(err is None and listed == want,
                "%s grades labs 0..%d only (%d tests)" % (what, lab, len(want)),
                err or "it would grade %s" % ", ".join(sorted(listed ^ want)))
    labs = [n for n in (lab - 1, lab) if n in manifest]
    results, err = grade_tree(dest, jobs, scale, hidden_path, labs)
    if not tally.check(err is None, what + " is graded", err):
        return
    for name, t in sorted(results.items(), key=lambda kv: lab_of.get(kv[0], -1)):
        if lab_of.get(name) == lab:
            failed = tally.check(t["status"] == "failed",
                                 "%s: %s fails (%s)" % (what, name, t["extra_data"]["verdict"]),
                                 "it passes with the lab %d stubs: the test does not test lab %d" % (lab, lab))
            if failed:
                tally.check(names_stub(t["output"], lab), "%s: %s names a lab %d function to write"
                            % (what, name, lab), "no '>>> ... lab %d: NAME not implemented' line" % lab)
        elif lab_of.get(name, lab) < lab:
            tally.check(t["status"] == "passed", "%s: %s passes" % (what, name), why_failed(t))


def check_releases(tally, root, labs, workdir, args, hidden):
    """(c) for each lab, two releases at a time, each with half the jobs (one builds while
    the other boots QEMUs, and no more QEMUs run than with one release at a time, so that
    timing-sensitive tests see the usual load); each release's lines are printed together,
    in lab order."""
    jobs = max(1, args.jobs // 2)	# two releases at once: as many QEMUs as one with -j

    def one(lab):
        t = Tally(buffered=True)
        check_release(t, root, lab, workdir, jobs, args.timeout_scale, hidden)
        return t
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for t in pool.map(one, labs):
            tally.add(t)


def main(argv):
    """Run every check; exit status 1 if any failed."""
    p = argparse.ArgumentParser(prog="kitcheck.py", description="Prove the lab kit.")
    p.add_argument("-j", "--jobs", type=int, default=2, help="make -j and grade -j (default 2)")
    p.add_argument("--lab", type=int, action="append", help="check only this lab's release")
    p.add_argument("--timeout-scale", type=float, default=1.0, metavar="F")
    p.add_argument("--keep", action="store_true", help="keep the releases (their logs are in obj/grade)")
    p.add_argument("--root", default=ROOT, help="the reference tree (default: this one)")
    args = p.parse_args(argv)
    root = os.path.abspath(args.root)
    tally = Tally()
    errors, _ = check_markers.check(root)
    tally.check(not errors, "markers agree with labs/manifest.json", "\n    ".join([""] + errors))
    try:
        manifest = gradelib.load_manifest(root)
    except gradelib.ManifestError as e:
        tally.check(False, "labs/manifest.json loads", "; ".join(e.errors))
        return finish(tally)
    hidden = os.path.join(root, "labs", "hidden.json")
    hidden = hidden if os.path.exists(hidden) else None
    check_reference(tally, root, args.jobs, args.timeout_scale, hidden)
    workdir = tempfile.mkdtemp(prefix="pvlab-kitcheck-")
    try:
        labs = [n for n in sorted(n for n in manifest if n is not None) if not args.lab or n in args.lab]
        check_releases(tally, root, labs, workdir, args, hidden)
    finally:
        if args.keep:
            print("kitcheck: releases kept in " + workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return finish(tally)


def finish(tally):
    """Print the closing line; the exit status."""
    print("kitcheck: %d passed, %d failed" % (tally.passed, tally.failed))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\nkitcheck: interrupted", file=sys.stderr)
        sys.exit(130)
