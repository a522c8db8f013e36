#!/usr/bin/env python3
"""kitcheck.py: the lab kit's proof that its labs are gradable (part of `make test`).

  (a) the SOLUTION markers agree with labs/manifest.json;
  (b) the reference tree builds and earns full marks, hidden tests included;
  (c) for every lab N: the lab N release is made, committed and builds; its own `make grade`
      grades labs 0..N only; every test of lab N fails there, its failure report names a
      lab N stub (">>> ... lab N: NAME not implemented"), and every earlier test passes.

One line per check, `PASS: <what>` or `FAIL: <what>: <why>`, then `kitcheck: N passed,
N failed`; the exit status is 1 on any failure.  Releases go to a temporary directory that
is removed at the end (--keep leaves it).
"""
import argparse
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
    """Counts and prints the checks."""

    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, why=""):
        """Print 'PASS: what' or 'FAIL: what: why' and count it; returns ok."""
        if ok:
            self.passed += 1
            print("PASS: " + what)
        else:
            self.failed += 1
            print("FAIL: %s: %s" % (what, why))
        sys.stdout.flush()
        return ok


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


def grade_tree(tree, jobs, scale, hidden):
    """Grade tree with its own grade.py: ({test id: Gradescope test dict}, error or None)."""
    fd, out_json = tempfile.mkstemp(prefix="kitcheck-", suffix=".json")
    os.close(fd)
    try:
        cmd = [sys.executable, os.path.join(tree, "grade", "grade.py"), "--root", tree,
               "-j", str(jobs), "--timeout-scale", str(scale), "--gradescope", out_json]
        if hidden:
            cmd += ["--hidden", hidden]
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
    results, err = grade_tree(dest, jobs, scale, hidden_path)
    if not tally.check(err is None, what + " is graded", err):
        return
    tally.check(set(results) == want, "%s grades labs 0..%d only (%d tests)" % (what, lab, len(want)),
                "graded %s" % ", ".join(sorted(set(results) ^ want)))
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
        for lab in sorted(n for n in manifest if n is not None):
            if not args.lab or lab in args.lab:
                check_release(tally, root, lab, workdir, args.jobs, args.timeout_scale, hidden)
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
