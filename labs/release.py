#!/usr/bin/env python3
"""release.py: make the student release of lab N (`make release LAB=N [DEST=dir]`).

    release.py N DEST [--strip-earlier] [--no-git] [--no-build] [--onto REPO [--force]]

Copies the files git tracks, minus the manifest's "instructor_only" paths, into the empty or
new directory DEST.  In each file with SOLUTION markers it keeps the student stub of labs
>= N (of every lab with --strip-earlier) and the solution of earlier labs, and deletes the
marker lines.  It writes labs/released.json ({"lab": N}: `make grade` there grades labs
0..N), checks that no line of a stripped solution is left anywhere in DEST, commits it all
as a new git repository (unless --no-git) and checks that it builds (unless --no-build).
With --onto REPO it then (after the build check) commits the release as branch labN of the
course repository REPO, on top of branch lab(N-1), so that one history runs through all
releases and students can `git merge origin/labN` into their work; a bare REPO's HEAD then
names labN, so that `git clone REPO` checks out the newest lab.  REPO must exist, and must
have branch lab(N-1) unless --force.
"""
import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "labs"))
sys.path.insert(0, os.path.join(ROOT, "grade"))
import check_markers  # noqa: E402
import gradelib  # noqa: E402

MIN_SECRET_LEN = 12         # shorter solution lines ("return ret;", "break;") are not checked
# Makefile targets that need instructor-only files: a release's README drops lines naming them.
INSTRUCTOR_TARGETS = ("test", "check-markers", "release", "autograder")
GIT_IDENTITY = {"GIT_AUTHOR_NAME": "pvlab", "GIT_AUTHOR_EMAIL": "pvlab@localhost",
                "GIT_COMMITTER_NAME": "pvlab", "GIT_COMMITTER_EMAIL": "pvlab@localhost"}


class ReleaseError(Exception):
    """The release cannot be made; the message is one line (or several, one per problem)."""


def is_instructor_only(path, patterns):
    """True if path matches an instructor_only glob, or lies under a directory it names."""
    for pat in patterns:
        pat = pat.rstrip("/")
        if fnmatch.fnmatchcase(path, pat) or path.startswith(pat + "/"):
            return True
    return False


def norm(line):
    """A line with its blanks collapsed, for comparing solution text."""
    return " ".join(line.split())


def distinctive(line):
    """True if a normalized solution line is specific enough to count as leaked when seen:
    not blank, braces or a short common token, and not an #include."""
    return (len(line) >= MIN_SECRET_LEN and re.search(r"[A-Za-z0-9]", line) is not None
            and not line.startswith("#include"))


def strip_file(rel, lines, regions, lab, strip_earlier):
    """Strip one file: (kept lines, [(lab, path, line number, text)] of removed solution
    lines, [text] of the lines the release shows: given code, stubs, kept solutions)."""
    drop, secret = set(), []
    inside = {n for r in regions for n in range(r.if_line, r.endif_line + 1)}
    public = [line for n, line in enumerate(lines, 1) if n not in inside]
    for r in regions:
        drop |= {r.if_line, r.else_line, r.endif_line}
        solution = range(r.if_line + 1, r.else_line)
        stub = range(r.else_line + 1, r.endif_line)
        public += [lines[n - 1] for n in stub]
        if r.lab >= lab or strip_earlier:
            drop |= set(solution)
            secret += [(r.lab, rel, n, lines[n - 1]) for n in solution]
        else:
            drop |= set(stub)
            public += [lines[n - 1] for n in solution]
    kept = [line for n, line in enumerate(lines, 1) if n not in drop]
    return kept, secret, public


def copy_tree(root, dest, files, marked, lab, strip_earlier):
    """Copy files into dest, stripping the marked ones: (secret lines, public lines)."""
    secret, public = [], []
    for rel in files:
        src, dst = os.path.join(root, rel), os.path.join(dest, rel)
        if not os.path.lexists(src):
            continue                    # deleted in the work tree but not yet in git
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(src):
            os.symlink(os.readlink(src), dst)
        elif rel in marked:
            with open(src, encoding="utf-8") as f:
                lines = f.read().split("\n")
            kept, s, p = strip_file(rel, lines, marked[rel], lab, strip_earlier)
            with open(dst, "w", encoding="utf-8") as f:
                f.write("\n".join(kept))
            shutil.copymode(src, dst)
            secret += s
            public += p
        else:
            shutil.copyfile(src, dst)
            shutil.copymode(src, dst)
            if rel.endswith(check_markers.SOURCE_SUFFIXES):
                public += (check_markers.read_text(src) or "").split("\n")
    return secret, public


def secret_origins(secret, public, allow):
    """{normalized line: (lab, path, line number)} of the distinctive stripped solution lines
    that the release does not show anyway (in given source code, a stub or a kept
    solution) and that are not allowed by the manifest."""
    shown = {norm(l) for l in public} | {norm(l) for l in allow}
    origin = {}
    for lab, rel, n, text in secret:
        key = norm(text)
        if distinctive(key) and key not in shown:
            origin.setdefault(key, (lab, rel, n))
    return origin


def leaks_in(text, origin):
    """[(line number, origin, line)] of the lines of text that repeat a secret line."""
    hits = ((i, origin.get(norm(line)), line) for i, line in enumerate(text.split("\n"), 1))
    return [hit for hit in hits if hit[1]]


def find_leaks(dest, secret, public, allow):
    """Solution text of stripped regions left anywhere in dest: ['path:line: ...'] messages."""
    origin = secret_origins(secret, public, allow)
    leaks = []
    for d, dirs, files in os.walk(dest):
        dirs[:] = sorted(x for x in dirs if not (d == dest and x in (".git", "obj")))
        for name in sorted(files):
            path = os.path.join(d, name)
            text = None if os.path.islink(path) else check_markers.read_text(path)
            for i, (lab, rel, n), line in leaks_in(text or "", origin):
                leaks.append("%s:%d: solution of lab %d (%s:%d) left in the release: %s"
                             % (os.path.relpath(path, dest), i, lab, rel, n, line.strip()))
    return leaks


def git_commit(dest, lab):
    """Make dest a git repository with one commit by a fixed author; returns its hash."""
    env = dict(os.environ, **GIT_IDENTITY)
    cmds = [["git", "-c", "init.defaultBranch=main", "init", "-q"],
            ["git", "add", "-A"],
            ["git", "-c", "commit.gpgsign=false", "commit", "-q", "--no-verify",
             "-m", "pvlab lab %d release" % lab],
            ["git", "rev-parse", "--short", "HEAD"]]
    for cmd in cmds:
        r = subprocess.run(cmd, cwd=dest, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True)
        if r.returncode:
            raise ReleaseError("'%s' failed in %s: %s" % (" ".join(cmd), dest, r.stdout.strip()))
    return r.stdout.strip()


def git(args, env=None, cwd=None):
    """Run git; its stdout stripped, or ReleaseError with what it said."""
    r = subprocess.run(["git"] + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True)
    if r.returncode:
        raise ReleaseError("'git %s' failed: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout.strip()


def publish(dest, repo, lab):
    """Commit the release in dest as branch lab<N> of the course repository repo, on top of
    branch lab<N-1> when it has one, so that students who cloned an earlier release can
    'git merge origin/labN' (separate one-commit repositories would have unrelated
    histories).  A bare repo's HEAD is pointed at labN, so a clone checks out the newest
    lab; a non-bare repo's work tree and current branch are not touched.  Returns (hash,
    hash of lab<N-1> or None)."""
    gitdir, prev = check_onto(repo, lab, force=True)
    branch = "refs/heads/lab%d" % lab
    fd, index = tempfile.mkstemp(prefix="release-index-")
    os.close(fd)
    os.unlink(index)            # git wants to create the index itself
    env = dict(os.environ, GIT_INDEX_FILE=index, **GIT_IDENTITY)
    try:
        base = ["--git-dir", gitdir, "--work-tree", dest]
        git(base + ["add", "-A"], env=env)
        tree = git(base + ["write-tree"], env=env)
        commit = git(base + ["commit-tree", tree, "-m", "pvlab lab %d release" % lab]
                     + (["-p", prev] if prev else []), env=env)
        git(["--git-dir", gitdir, "update-ref", branch, commit, ""], env=env)
        if git(["--git-dir", gitdir, "rev-parse", "--is-bare-repository"]) == "true":
            git(["--git-dir", gitdir, "symbolic-ref", "HEAD", branch])
    finally:
        if os.path.exists(index):
            os.unlink(index)
    return commit[:7], prev[:7] or None


def check_onto(repo, lab, force=False):
    """Refuse a course repository that cannot take lab `lab`: missing, not a git repository,
    already holding branch lab<N>, or (unless force) lacking branch lab<N-1>, which would
    make a branch that students' clones cannot merge.  Returns (git dir, lab<N-1> hash or '')."""
    if not os.path.isdir(repo):
        raise ReleaseError("no course repository %s: create it with 'git init --bare %s'"
                           % (repo, repo))
    r = subprocess.run(["git", "rev-parse", "--git-dir"], cwd=repo, stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, universal_newlines=True)
    if r.returncode:
        raise ReleaseError("%s is not a git repository: create one with 'git init --bare %s'"
                           % (repo, repo))
    gitdir = os.path.join(repo, r.stdout.strip())

    def ref(name):
        """The hash of branch name in repo, or ''."""
        return subprocess.run(["git", "--git-dir", gitdir, "rev-parse", "-q", "--verify",
                               "refs/heads/" + name], stdout=subprocess.PIPE,
                              universal_newlines=True).stdout.strip()
    if ref("lab%d" % lab):
        raise ReleaseError("%s already has a branch lab%d: delete it first" % (repo, lab))
    prev = ref("lab%d" % (lab - 1)) if lab > 0 else ""
    if lab > 0 and not prev and not force:
        raise ReleaseError("%s has no branch lab%d, so students could not merge lab%d into "
                           "their work: release lab %d there first (or give --force, "
                           "RELEASEFLAGS=--force, for a new history)" % (repo, lab - 1, lab, lab - 1))
    return gitdir, prev


def student_readme(dest):
    """Drop from dest's README.md the lines that name a make target the release lacks
    (INSTRUCTOR_TARGETS need instructor-only files), so it lists only what works there."""
    path = os.path.join(dest, "README.md")
    if not os.path.exists(path):
        return
    rx = re.compile(r"\bmake (%s)\b" % "|".join(map(re.escape, INSTRUCTOR_TARGETS)))
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(l for l in lines if not rx.search(l)))


def build(dest, jobs):
    """Run make in dest; ReleaseError with the end of its output if it fails."""
    r = subprocess.run(["make", "-C", dest, "-j%d" % jobs], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    if r.returncode:
        tail = "\n".join("    " + l for l in r.stdout.rstrip().split("\n")[-20:])
        raise ReleaseError("the release does not build ('make -C %s' failed):\n%s" % (dest, tail))


def check_dest(dest):
    """Refuse a dest that exists and is not an empty directory."""
    if os.path.exists(dest) and (not os.path.isdir(dest) or os.listdir(dest)):
        raise ReleaseError("%s is not empty: give a new or empty directory" % dest)


def make_release(root, lab, dest, strip_earlier=False, git=True, do_build=True, jobs=None,
                 log=print, onto=None, force=False):
    """Make the lab `lab` release of the tree at root in dest (see the module docstring);
    raises ReleaseError, leaving no half-made release behind and publishing nothing."""
    manifest = gradelib.load_manifest(root)
    if lab not in manifest:
        raise ReleaseError("no lab %d in labs/manifest.json" % lab)
    check_dest(dest)
    if onto:
        check_onto(onto, lab, force)
    errors, _ = check_markers.check(root)
    if errors:
        raise ReleaseError("the markers are broken (labs/check_markers.py):\n" + "\n".join(errors))
    patterns = manifest[None].get("instructor_only", [])
    files = [f for f in check_markers.tracked_files(root) if not is_instructor_only(f, patterns)]
    marked, _ = check_markers.scan_tree(root, files)
    made_dest = not os.path.exists(dest)
    os.makedirs(dest, exist_ok=True)
    try:
        secret, public = copy_tree(root, dest, files, marked, lab, strip_earlier)
        with open(os.path.join(dest, "labs", "released.json"), "w") as f:
            json.dump({"lab": lab}, f)
            f.write("\n")
        student_readme(dest)
        leaks = find_leaks(dest, secret, public, manifest[None].get("leak_allow", []))
        if leaks:
            raise ReleaseError("solution text left in the release (fix it, or add a line that is "
                               "public by design to \"leak_allow\" in labs/manifest.json):\n"
                               + "\n".join(leaks))
        stubbed = sorted({r.lab for rs in marked.values() for r in rs
                          if r.lab >= lab or strip_earlier})
        log("release: lab %d: %d files in %s; stubs of lab%s %s"
            % (lab, len(files) + 1, dest, "" if len(stubbed) == 1 else "s",
               ", ".join(map(str, stubbed)) or "(none)"))
        if git:
            log("release: committed %s \"pvlab lab %d release\"" % (git_commit(dest, lab), lab))
        if do_build:
            build(dest, jobs or os.cpu_count() or 1)
            log("release: 'make -C %s' builds" % dest)
        if onto:        # last: a release that fails a check is never published
            commit, prev = publish(dest, onto, lab)
            log("release: %s: branch lab%d is %s, %s" % (
                onto, lab, commit, "on top of lab%d (%s)" % (lab - 1, prev) if prev
                else "a new history" + (" (forced: no branch lab%d there)" % (lab - 1) if lab else "")))
    except BaseException:
        remove_release(dest, made_dest)
        raise


def remove_release(dest, made_dest):
    """Delete what make_release wrote into dest (and dest itself if it made it)."""
    if made_dest:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for name in os.listdir(dest):
        path = os.path.join(dest, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            os.unlink(path)


def main(argv):
    """Command line: release.py N DEST [--strip-earlier] [--no-git] [--no-build] [--onto REPO]."""
    p = argparse.ArgumentParser(prog="release.py", description="Make the student release of lab N.")
    p.add_argument("lab", type=int, help="the lab students start (its stubs and later ones ship)")
    p.add_argument("dest", help="a new or empty directory")
    p.add_argument("--strip-earlier", action="store_true",
                   help="ship the stubs of earlier labs too, not their solutions")
    p.add_argument("--no-git", action="store_true", help="do not make DEST a git repository")
    p.add_argument("--no-build", action="store_true", help="do not check that DEST builds")
    p.add_argument("-j", "--jobs", type=int, default=None, help="make -j for the build check")
    p.add_argument("--root", default=ROOT, help="the reference tree (default: this one)")
    p.add_argument("--onto", metavar="REPO",
                   help="also commit the release as branch labN of the course repository REPO, "
                        "on top of its branch lab(N-1), so students can 'git merge origin/labN'")
    p.add_argument("--force", action="store_true",
                   help="with --onto: publish labN even though REPO has no branch lab(N-1)")
    args = p.parse_args(argv)
    try:
        make_release(os.path.abspath(args.root), args.lab, os.path.abspath(args.dest),
                     args.strip_earlier, not args.no_git, not args.no_build, args.jobs,
                     onto=os.path.abspath(args.onto) if args.onto else None, force=args.force)
    except (ReleaseError, gradelib.ManifestError) as e:
        print("release: " + str(e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
