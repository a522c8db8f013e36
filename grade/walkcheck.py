#!/usr/bin/env python3
"""walkcheck.py: the course workflow, walked end to end as docs/KIT.md describes it (part of
`make test`).

Instructor: `git init --bare course.git`; `make release LAB=0 ONTO=course.git`.  Student:
`git clone course.git` (gives lab 0), commit work.  Instructor: `make release LAB=1
ONTO=course.git`; `make autograder LAB=1`.  Student: `git fetch && git merge origin/lab1`
(`make help` and README name no instructor target), the known-good lab 1 solution (the
reference's files) committed, `make handin`.  Gradescope (the zip unpacked as
/autograder/source, AUTOGRADER_ROOT standing in for /autograder): run_autograder on the
hand-in earns full marks; on a submission that edits the grader, the manifest, the Makefile
and the tests of an unsolved lab 1 it earns exactly lab 0's points, as without the edits.

One line per check, `PASS: <what>` or `FAIL: <what>: <why>`, then `walkcheck: N passed,
N failed`.  Everything happens in a temporary directory (--keep leaves it).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "grade"))
sys.path.insert(0, os.path.join(ROOT, "labs"))
import gradelib  # noqa: E402
import release  # noqa: E402
from kitcheck import Tally, run_child, tail  # noqa: E402

ENV = dict(os.environ, **release.GIT_IDENTITY)
ENV.pop("MAKEFLAGS", None)
ENV.pop("MAKELEVEL", None)


def sh(cmd, cwd, env=ENV):
    """Run cmd in cwd: (status, output)."""
    return run_child(cmd, cwd=cwd, env=env)


def must(tally, what, cmd, cwd, env=ENV):
    """Run cmd and check that it succeeds; returns its output, or None on failure."""
    rc, out = sh(cmd, cwd, env)
    tally.check(rc == 0, what, "'%s' exited %d:\n%s" % (" ".join(cmd), rc, tail(out)))
    return out if rc == 0 else None


def lab_points(manifest, hidden, labs):
    """The points of the given labs' tests, hidden ones included."""
    return sum(t.points for t in gradelib.all_tests(manifest, hidden) if t.lab in labs)


def student_steps(tally, w, manifest):
    """Releases 0 and 1 into a course repository, and a student's clone, work and merge;
    returns the student's tree (None if a step failed)."""
    course, student = os.path.join(w, "course.git"), os.path.join(w, "student")
    make = ["make", "-s", "-C", ROOT]
    rc, out = sh(make + ["release", "LAB=0", "DEST=" + os.path.join(w, "r0"), "ONTO=" + course], w)
    tally.check(rc != 0 and "git init --bare " + course in out,
                "a release onto a missing course repository says 'git init --bare'", tail(out))
    must(tally, "git init --bare course.git", ["git", "init", "-q", "--bare", course], w)
    rc, out = sh(make + ["release", "LAB=1", "DEST=" + os.path.join(w, "r1"), "ONTO=" + course], w)
    tally.check(rc != 0 and "has no branch lab0" in out,
                "lab 1 onto a course repository without lab0 is refused", tail(out))
    if must(tally, "make release LAB=0 ONTO=course.git",
            make + ["release", "LAB=0", "DEST=" + os.path.join(w, "r0"), "ONTO=" + course], w) is None:
        return None
    if must(tally, "git clone course.git (no -b)", ["git", "clone", "-q", course, student], w) is None:
        return None
    tally.check(gradelib.released_lab(student) == 0, "the clone is the lab 0 release")
    with open(os.path.join(student, "answers-lab0.txt"), "w") as f:
        f.write("lab 0 answers\n")
    must(tally, "the student commits lab 0 work", ["sh", "-c", "git checkout -q -b work && "
         "git add answers-lab0.txt && git commit -q -m 'my lab 0'"], student)
    if must(tally, "make release LAB=1 ONTO=course.git",
            make + ["release", "LAB=1", "DEST=" + os.path.join(w, "r1"), "ONTO=" + course], w) is None:
        return None
    if must(tally, "git fetch && git merge origin/lab1", ["sh", "-c", "git fetch -q origin && "
            "git merge -q --no-edit origin/lab1"], student) is None:
        return None
    tally.check(gradelib.released_lab(student) == 1 and
                os.path.exists(os.path.join(student, "answers-lab0.txt")),
                "after the merge the tree is lab 1 and keeps the student's work")
    help_ = sh(["make", "-s", "help"], student)[1]
    with open(os.path.join(student, "README.md")) as f:
        readme = f.read()
    shown = [t for t in release.INSTRUCTOR_TARGETS if "make " + t in help_ + readme]
    absent = [t for t in release.INSTRUCTOR_TARGETS if sh(["make", "-n", t], student)[0] != 0]
    tally.check(not shown and absent == list(release.INSTRUCTOR_TARGETS),
                "the student's make help and README name no target their tree lacks",
                "named: %s; defined anyway: %s" % (shown, sorted(set(release.INSTRUCTOR_TARGETS) - set(absent))))
    return student


def handin(tally, student, manifest):
    """Commit the known-good lab 1 solution and make the hand-in zip; its path or None."""
    files = [f for n in (0, 1) for f in manifest[n]["files"]]
    for rel in files:
        shutil.copyfile(os.path.join(ROOT, rel), os.path.join(student, rel))
    rc, out = sh(["make", "-s", "handin"], student)
    tally.check(rc != 0 and "not committed" in out, "make handin refuses uncommitted work", tail(out))
    must(tally, "the student commits the lab 1 solution",
         ["sh", "-c", "git commit -q -am 'lab 1 done'"], student)
    if must(tally, "make handin", ["make", "-s", "handin"], student) is None:
        return None
    path = os.path.join(student, "handin-lab1.zip")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    want = set(files) | {"answers-lab0.txt", "HANDIN.txt"}
    tally.check(names == want, "handin-lab1.zip holds the lab 0-1 files, answers and HANDIN.txt",
                "has %s" % sorted(names))
    return path


def tamper(tree):
    """Edit tests, manifest, grader and Makefile the way a cheater would: every test passes."""
    def edit(rel, old, new):
        p = os.path.join(tree, rel)
        with open(p) as f:
            text = f.read()
        assert old in text, (rel, old)
        with open(p, "w") as f:
            f.write(text.replace(old, new, 1))
    edit("grade/gradelib.py", "    lines = run.lines\n", "    return 'OK', []\n    lines = run.lines\n")
    edit("labs/manifest.json", '"points": 10', '"points": 1000')
    edit("Makefile", "all: $(HV)", "all: $(HV)\n\techo tampered")
    edit("guest/tests/" + sorted(os.listdir(os.path.join(tree, "guest/tests")))[0], "", "/* edited */\n")


def unzip(path, dest):
    """Unpack a zip into dest, modes kept (as Gradescope's unzip does; Python's does not)."""
    os.makedirs(dest, exist_ok=True)
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            out = z.extract(info, dest)
            mode = info.external_attr >> 16 & 0o777
            if mode:
                os.chmod(out, mode)


def gradescope(tally, w, zip_path, submission, what, want):
    """Unpack the autograder zip as Gradescope does, run run_autograder on submission (a
    directory or a zip, unpacked like Gradescope unpacks an upload); check the score."""
    gs = os.path.join(w, "gs-" + what.split()[0])
    src, sub = os.path.join(gs, "source"), os.path.join(gs, "submission")
    os.makedirs(os.path.join(gs, "results"))
    unzip(zip_path, src)
    shutil.copy2(os.path.join(src, "run_autograder"), os.path.join(gs, "run_autograder"))
    if submission.endswith(".zip"):
        unzip(submission, sub)
    else:
        shutil.copytree(submission, sub, ignore=shutil.ignore_patterns(".git", "obj"))
    start = time.monotonic()
    rc, out = sh([os.path.join(gs, "run_autograder")], gs, dict(ENV, AUTOGRADER_ROOT=gs))
    try:
        with open(os.path.join(gs, "results", "results.json")) as f:
            score = json.load(f)["score"]
    except (OSError, ValueError, KeyError) as e:
        score = "no results.json (%s)" % e
    tally.check(score == want, "run_autograder on %s: %s points (%.0fs)" % (what, want, time.monotonic() - start),
                "got %s:\n%s" % (score, tail(out, 20)))


# Two plausible bugs for the student's lab 1 (inserted after the anchor): a call through a
# NULL function pointer in console_io (an unknown command, which only the console test
# sends), and a silent spin in multicall.  (file, anchor, bug, test)
BUGS = [("hv/console.c", "u64 a4 UNUSED, u64 a5 UNUSED)\n{\n",
         "\tif (cmd > CONSOLEIO_write) {\t/* a handler table with holes */\n"
         "\t\tstatic long (*volatile handler)(void);\n\t\treturn handler();\n\t}\n", "console"),
        ("hv/hypercall.c", "\tif (nr_calls > MULTICALL_MAX)\n\t\treturn -XEN_EINVAL;\n",
         "\twhile (v->dom->state == DOM_RUNNING)\n\t\tpause();\n", "multicall")]
IDLE_LIMIT = 10.0           # seconds to a located crash or hang on an idle machine


def insert_bug(tree, rel, anchor, bug):
    """Insert bug after the first anchor in tree/rel; the 1-based line numbers of the bug."""
    path = os.path.join(tree, rel)
    with open(path) as f:
        text = f.read()
    at = text.index(anchor) + len(anchor)
    first = text.count("\n", 0, at) + 1
    with open(path, "w") as f:
        f.write(text[:at] + bug + text[at:])
    return list(range(first, first + bug.count("\n")))


def check_debugging(tally, student):
    """A NULL call and a hang in the student's lab 1: `make grade` reports each with the
    file and line of the bug, within IDLE_LIMIT seconds (scaled by the machine's load)."""
    lines = {t: (rel, insert_bug(student, rel, anchor, bug)) for rel, anchor, bug, t in BUGS}
    if must(tally, "the buggy lab 1 builds", ["make", "-s", "-j2"], student) is None:
        return
    rc, out = sh([sys.executable, "grade/grade.py", "--test", "console", "--test", "multicall"], student)
    load = os.getloadavg()[0] / (os.cpu_count() or 1) if hasattr(os, "getloadavg") else 1.0
    limit = IDLE_LIMIT * max(1.0, load)
    for test, (rel, nums) in lines.items():
        report = re.search(r"^lab1/%s: (\w+) \(([\d.]+)s\)\n((?:    .*\n?)*)" % test, out, re.M)
        verdict, secs, body = report.groups() if report else ("missing", "0", "")
        named = any(re.search(r"^      (rip|called from|hung at) [0-9a-f]+: \w+ \(%s:%d\)" % (re.escape(rel), n), body, re.M)
                    for n in nums)
        want = "CRASH" if test == "console" else "TIMEOUT"
        hang_ok = test == "console" or "hang: no output and no VM exit" in body
        tally.check(verdict == want and named and hang_ok and float(secs) <= limit,
                    "the %s is reported at %s:%d in %ss (limit %.0fs at this load)"
                    % ("NULL call" if test == "console" else "hang", rel, nums[0], secs, limit),
                    "%s after %ss:\n%s" % (verdict, secs, tail(body, 20)))


# QEMU of the Ubuntu runner images GitHub offers (QEMU 7 or later is needed: tools/deps).
UBUNTU_QEMU = {"ubuntu-22.04": (6, 2), "ubuntu-24.04": (8, 2)}
CI_FILE = ".github/workflows/grade.yml"


def check_ci(tally, student):
    """The student CI workflow shipped in the release: it parses, runs on an Ubuntu whose
    QEMU is new enough, and its commands are exactly Gradescope's: setup.sh, then
    run_autograder with the repository as release and submission.  Then run that command
    as the runner would and return its score (None if it could not be read)."""
    try:
        import yaml
    except ImportError:
        return tally.check(False, "the CI workflow parses", "no PyYAML: apt-get install python3-yaml")
    try:
        with open(os.path.join(student, CI_FILE)) as f:
            flow = yaml.safe_load(f)
        (job,) = flow["jobs"].values()
        runs = [s["run"] for s in job["steps"] if "run" in s]
        uses = [s["uses"] for s in job["steps"] if "uses" in s]
        on = flow.get("on", flow.get(True))     # YAML 1.1 reads a bare 'on' as true
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as e:
        return tally.check(False, "the release's %s parses as a one-job workflow" % CI_FILE, str(e))
    tally.check("push" in on and UBUNTU_QEMU.get(job.get("runs-on"), (0,)) >= (7, 0),
                "the CI runs on push on an Ubuntu with QEMU >= 7", "on %r, runs-on %r" % (on, job.get("runs-on")))
    ci_cmd = "grade/autograder/run_autograder --source . --submission . --results obj/results.json"
    tally.check(uses == ["actions/checkout@v4"] and runs == ["sh grade/autograder/setup.sh", ci_cmd],
                "the CI's commands are Gradescope's setup.sh and run_autograder", "uses %r, runs %r" % (uses, runs))
    summary = os.path.join(student, "obj", "summary.md")
    os.makedirs(os.path.dirname(summary), exist_ok=True)
    rc, out = sh(["sh", "-c", ci_cmd], student, dict(ENV, GITHUB_STEP_SUMMARY=summary))
    try:
        with open(os.path.join(student, "obj", "results.json")) as f:
            score = json.load(f)["score"]
        with open(summary) as f:
            published = f.read()
    except (OSError, ValueError, KeyError):
        score, published = None, ""
    tally.check(score is not None and "## Score: %g/" % score in published and "::notice" in out,
                "the CI's run_autograder publishes its score", tail(out))
    return score


def main(argv):
    """Walk the workflow; exit status 1 if a step failed."""
    p = argparse.ArgumentParser(prog="walkcheck.py", description=__doc__.split("\n")[0])
    p.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = p.parse_args(argv)
    tally = Tally()
    manifest = gradelib.load_manifest(ROOT)
    hidden_path = os.path.join(ROOT, "labs", "hidden.json")
    hidden = gradelib.load_hidden(hidden_path, manifest) if os.path.exists(hidden_path) else {}
    w = tempfile.mkdtemp(prefix="pvlab-walk-")
    try:
        student = student_steps(tally, w, manifest)
        zip_path = os.path.join(w, "autograder-lab1.zip")
        must(tally, "make autograder LAB=1",
             ["make", "-s", "-C", ROOT, "autograder", "LAB=1", "ZIP=" + zip_path], w)
        if student and os.path.exists(zip_path):
            stubs = os.path.join(w, "tampered")
            shutil.copytree(student, stubs, symlinks=True)
            tamper(stubs)
            bundle = handin(tally, student, manifest)
            if bundle:
                gradescope(tally, w, zip_path, bundle, "the known-good hand-in",
                           float(lab_points(manifest, hidden, {0, 1})))
                ci = check_ci(tally, student)
                tally.check(ci == float(lab_points(manifest, {}, {0, 1})),
                            "the CI scores the hand-in commit as Gradescope does (public tests)",
                            "CI score %s" % ci)
            gradescope(tally, w, zip_path, stubs, "tampered unsolved lab 1",
                       float(lab_points(manifest, hidden, {0})))
            if bundle:
                check_debugging(tally, student)
    finally:
        if args.keep:
            print("walkcheck: kept " + w)
        else:
            shutil.rmtree(w, ignore_errors=True)
    print("walkcheck: %d passed, %d failed" % (tally.passed, tally.failed))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\nwalkcheck: interrupted", file=sys.stderr)
        sys.exit(130)
