#!/usr/bin/env python3
"""autograde.py: grade one submission the way Gradescope (and the student CI) does.

    autograde.py [--source DIR] [--submission DIR] [--results FILE] [--hidden FILE] [--work DIR]

SOURCE is a pristine release of lab N (its labs/released.json says N).  A fresh copy of it
is made in WORK, and only the student files of labs 0..N (each lab's "files" in SOURCE's
labs/manifest.json) are laid over it from SUBMISSION; everything else a submission carries
(tests, manifest, grader, Makefile, tools) is ignored, so a submission cannot set its own
grade.  Then `make` and `grade.py --gradescope RESULTS` with HIDDEN's tests run in WORK.
RESULTS is always written, with score 0 and the reason when the build fails.  Defaults
are Gradescope's layout (/autograder/source/pvlab, /autograder/submission,
/autograder/results/results.json, /autograder/source/hidden.json when it exists), under
$AUTOGRADER_ROOT instead of /autograder when that is set.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import gradelib  # noqa: E402

GS = os.environ.get("AUTOGRADER_ROOT", "/autograder")    # another root: tests, dry runs
BUILD_TAIL = 30


def student_files(source):
    """The manifest files of labs 0..N of the release at source, N from labs/released.json."""
    manifest = gradelib.load_manifest(source)
    lab = gradelib.released_lab(source)
    if lab is None:
        raise gradelib.ManifestError("%s is not a release (no labs/released.json)" % source)
    files = []
    for n in sorted(k for k in manifest if k is not None and k <= lab):
        files += [f for f in manifest[n].get("files", []) if f not in files]
    return lab, files


def submission_root(sub, files):
    """The directory of the submission that holds the student files: sub itself, or its one
    subdirectory when the student zipped a folder rather than its contents."""
    def hits(d):
        return sum(os.path.isfile(os.path.join(d, f)) for f in files)
    if hits(sub) == 0:
        subdirs = [os.path.join(sub, d) for d in os.listdir(sub)
                   if os.path.isdir(os.path.join(sub, d)) and not d.startswith((".", "__"))]
        if len(subdirs) == 1 and hits(subdirs[0]):
            return subdirs[0]
    return sub


def lay_files(sub, work, files):
    """Copy each student file that sub has (a regular file, never a symlink) over work;
    returns (taken, missing) path lists."""
    taken, missing = [], []
    for rel in files:
        src = os.path.join(sub, rel)
        if os.path.isfile(src) and not os.path.islink(src):
            shutil.copyfile(src, os.path.join(work, rel))
            taken.append(rel)
        else:
            missing.append(rel)
    return taken, missing


def write_results(path, score, output, tests=()):
    """Write a results.json with a whole-submission message (Gradescope's format)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"score": score, "output": output, "tests": list(tests),
                   "visibility": "visible", "stdout_visibility": "visible"}, f, indent=2)
        f.write("\n")


def add_output(path, text):
    """Prefix the top-level output of the results.json at path with text."""
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    data["output"] = text + ("\n" + data["output"] if data.get("output") else "")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2)
        f.write("\n")


def autograde(source, sub, results, hidden, work, jobs):
    """Grade sub against the release at source in work; writes results; returns the
    grader's exit status (0: full marks)."""
    lab, files = student_files(source)
    if os.path.exists(work):
        shutil.rmtree(work)
    shutil.copytree(source, work, symlinks=True, ignore=shutil.ignore_patterns("obj", ".git"))
    taken, missing = lay_files(submission_root(sub, files), work, files)
    note = "lab %d: graded your %s" % (lab, ", ".join(taken) or "nothing")
    if missing:
        note += "; not in the submission, so the release's stubs: " + ", ".join(missing)
    print("autograde: " + note, flush=True)
    r = subprocess.run(["make", "-C", work, "-j%d" % jobs], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True, errors="replace")
    if r.returncode:
        tail = "\n".join(r.stdout.rstrip().split("\n")[-BUILD_TAIL:])
        print(tail)
        write_results(results, 0.0, note + "\nThe build failed ('make'):\n" + tail)
        print("Score: 0 (the build failed)")
        return 2
    cmd = [sys.executable, os.path.join(work, "grade", "grade.py"), "--root", work,
           "--gradescope", os.path.abspath(results), "-j", str(jobs)]
    if hidden:
        cmd += ["--hidden", hidden]
    rc = subprocess.run(cmd, cwd=work).returncode
    if os.path.exists(results):
        add_output(results, note)
        publish_score(results)
    return rc


def publish_score(results):
    """On a GitHub Actions runner, put the score on the run's page: a notice and a table in
    the step summary (GITHUB_STEP_SUMMARY).  Elsewhere nothing."""
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not summary:
        return
    with open(results, encoding="utf-8") as f:
        data = json.load(f)
    total = sum(t["max_score"] for t in data["tests"])
    print("::notice title=pvlab score::Score: %g/%g" % (data["score"], total))
    with open(summary, "a", encoding="utf-8") as f:
        f.write("## Score: %g/%g\n\n| test | points | status |\n|---|---|---|\n" % (data["score"], total))
        for t in data["tests"]:
            f.write("| %s | %g/%g | %s |\n" % (t["name"], t["score"], t["max_score"], t["status"]))


def main(argv):
    """Command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="autograde.py", description=__doc__.split("\n")[0])
    p.add_argument("--source", default=os.path.join(GS, "source", "pvlab"),
                   help="a pristine release of the lab (default: Gradescope's)")
    p.add_argument("--submission", default=os.path.join(GS, "submission"))
    p.add_argument("--results", default=os.path.join(GS, "results", "results.json"))
    p.add_argument("--hidden", default=None,
                   help="hidden tests (default: SOURCE/../hidden.json when it exists)")
    p.add_argument("--work", default=None, help="where to build (default: a new temporary directory)")
    p.add_argument("-j", "--jobs", type=int, default=os.cpu_count() or 1)
    args = p.parse_args(argv)
    source = os.path.abspath(args.source)
    hidden = args.hidden
    if hidden is None and os.path.exists(os.path.join(source, "..", "hidden.json")):
        hidden = os.path.abspath(os.path.join(source, "..", "hidden.json"))
    for what, d in (("source", source), ("submission", args.submission)):
        if not os.path.isdir(d):
            write_results(args.results, 0.0, "autograder: no %s directory %s" % (what, d))
            print("autograde: no %s directory %s" % (what, d), file=sys.stderr)
            return 2
    work = args.work or tempfile.mkdtemp(prefix="pvlab-autograde-")
    try:
        return autograde(source, os.path.abspath(args.submission), args.results,
                         hidden, os.path.abspath(work), args.jobs)
    except gradelib.ManifestError as e:
        write_results(args.results, 0.0, "autograder: " + str(e))
        print("autograde: " + str(e), file=sys.stderr)
        return 2
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
