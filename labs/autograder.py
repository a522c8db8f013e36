#!/usr/bin/env python3
"""autograder.py: the Gradescope autograder zip of lab N (`make autograder LAB=N`).

    autograder.py N ZIP [--root DIR]

The zip has Gradescope's documented layout: setup.sh and run_autograder at its top (copies
of grade/autograder/), pvlab/ (a fresh lab N release, checked to build) and hidden.json (the
instructor's labs/hidden.json).  Gradescope unpacks it into /autograder/source; see
grade/autograder/autograde.py for what run_autograder does with a submission.
"""
import argparse
import os
import shutil
import stat
import sys
import tempfile
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "labs"))
import release  # noqa: E402

TOP = ("setup.sh", "run_autograder")


def add(z, path, arcname):
    """Add one file to the zip, keeping its mode (run_autograder must stay executable)."""
    info = zipfile.ZipInfo(arcname, date_time=(1980, 1, 1, 0, 0, 0))
    info.external_attr = (stat.S_IMODE(os.stat(path).st_mode) | stat.S_IFREG) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    with open(path, "rb") as f:
        z.writestr(info, f.read())


def make_zip(root, lab, out, log=print):
    """Write the lab `lab` autograder zip to out; raises release.ReleaseError."""
    tmp = tempfile.mkdtemp(prefix="pvlab-autograder-")
    try:
        tree = os.path.join(tmp, "pvlab")
        release.make_release(root, lab, tree, git=False, log=log)
        hidden = os.path.join(root, "labs", "hidden.json")
        with zipfile.ZipFile(out + ".tmp", "w") as z:
            for name in TOP:
                add(z, os.path.join(tree, "grade", "autograder", name), name)
            if os.path.exists(hidden):
                add(z, hidden, "hidden.json")
            for d, dirs, files in os.walk(tree):
                dirs[:] = sorted(x for x in dirs if not (d == tree and x == "obj"))
                for name in sorted(files):
                    path = os.path.join(d, name)
                    if not os.path.islink(path):
                        add(z, path, os.path.join("pvlab", os.path.relpath(path, tree)))
        os.replace(out + ".tmp", out)
        log("autograder: %s: lab %d release, run_autograder, setup.sh%s"
            % (out, lab, ", hidden.json" if os.path.exists(hidden) else ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        if os.path.exists(out + ".tmp"):
            os.unlink(out + ".tmp")


def main(argv):
    """Command line: autograder.py N ZIP."""
    p = argparse.ArgumentParser(prog="autograder.py", description="Make lab N's Gradescope autograder zip.")
    p.add_argument("lab", type=int)
    p.add_argument("zip", help="the zip to write")
    p.add_argument("--root", default=ROOT, help="the reference tree (default: this one)")
    args = p.parse_args(argv)
    try:
        make_zip(os.path.abspath(args.root), args.lab, os.path.abspath(args.zip))
    except (release.ReleaseError, release.gradelib.ManifestError) as e:
        print("autograder: " + str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
