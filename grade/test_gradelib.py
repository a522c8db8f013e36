#!/usr/bin/env python3
"""Self-tests of the lab kit: output parsing, the marker checker, release stripping, and the
grader end to end against a fake QEMU (tools/qemu honours QEMU=/path/to/fake).

    python3 grade/test_gradelib.py        (or: python3 -m unittest discover -s grade)

Needs only Python, git and /bin/sh; no real QEMU, no kernel, a few seconds.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "labs"))
import check_markers  # noqa: E402
import gradelib  # noqa: E402
import hang  # noqa: E402
import release  # noqa: E402
import symbolize  # noqa: E402

# A fake qemu-system-x86_64: acts out the serial protocol chosen by the first domain's test=.
FAKE_QEMU = r'''#!PYTHON
import os, subprocess, sys, time
append = sys.argv[sys.argv.index("-append") + 1]
doms = [d.strip() for d in append.split("--")[1:]]
test = doms[0].split("test=")[1].split()[0]
def out(line): print(line, flush=True)
out("pvlab: hypervisor booting (pvh), command line \"%s\"" % append)
if test == "qemu-error":
    out("qemu-system-x86_64: could not load kernel"); sys.exit(1)
if test == "hang":
    child = subprocess.Popen(["sleep", "60"])
    with open(os.environ["FAKE_PIDFILE"], "w") as f:
        f.write("%d %d\n" % (os.getpid(), child.pid))
    out("(d0) TEST hang"); time.sleep(60)
if test == "panic":
    out("(d0) TEST panic"); out("pvlab: PANIC: bad things"); out("pvlab: exit panic"); sys.exit(7)
if test == "crash":
    out("pvlab: lab 3: time_scale_init not implemented")
    out("(d0) TEST crash"); out("(d0) lab 0: cpuid_filter not implemented")
    out("pvlab: d0 crashed: triple fault"); out("pvlab: exit failure"); sys.exit(5)
word = "FAILURE" if test == "fail" else "SUCCESS"
for i, d in enumerate(doms):
    out("(d%d) TEST %s" % (i, test))
    out("(d%d) %s: check one" % (i, "FAIL" if test == "fail" else "PASS"))
    out("(d%d) Test result: %s" % (i, word))
out("pvlab: exit " + ("failure" if test == "fail" else "success"))
sys.exit(5 if test == "fail" else 3)
'''

MANIFEST = {
    "instructor_only": ["labs/hidden.json", "secret/"],
    "labs": [
        {"lab": 0, "name": "zero", "handout": "handouts/lab0.md", "files": ["a.c"], "tests": [
            {"name": "ok", "points": 10, "domains": ["test=ok", "test=ok"],
             "expect": ["^\\(d0\\) TEST ok", "^\\(d1\\) PASS: check one"]},
            {"name": "fail", "points": 10, "domains": ["test=fail"]},
            {"name": "crash", "points": 10, "domains": ["test=crash"]},
            {"name": "panic", "points": 5, "domains": ["test=panic"]},
            {"name": "qemu-error", "points": 5, "domains": ["test=qemu-error"]},
            {"name": "hang", "points": 5, "domains": ["test=hang"], "timeout": 0.5}]},
        {"lab": 1, "name": "one", "handout": "handouts/lab1.md", "files": ["a.c"], "tests": [
            {"name": "ok1", "points": 7, "domains": ["test=ok"]}]},
        {"lab": 2, "name": "two", "handout": "handouts/lab2.md", "files": ["a.c"], "tests": []},
    ],
}

SOURCE = textwrap.dedent("""\
    int f(void)
    {
    #if SOLUTION(0)
    \treturn compute_the_zeroth_answer(42);
    #else // SOLUTION(0)
    \treturn 0; /* lab 0: compute the answer */
    #endif // SOLUTION(0)
    }

    int g(void)
    {
    \t#if SOLUTION(1)
    \tint first_lab_secret_value = 1;
    #ifdef EXTRA
    \tfirst_lab_secret_value++;
    #endif
    \treturn first_lab_secret_value;
    \t#else // SOLUTION(1)
    \tpanic("Lab 1: g not implemented");
    \t#endif // SOLUTION(1)
    }
    #if SOLUTION(2)
    long second_lab_secret_function(void) { return 7; }
    #else // SOLUTION(2)
    /* lab 2: write second_lab_secret_function */
    #endif // SOLUTION(2)
    """)


def write(root, rel, text):
    """Write text to root/rel, making directories."""
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    return path


def make_tree(root, manifest=MANIFEST, source=SOURCE, git=True):
    """A small synthetic pvlab tree: manifest, one marked source file, tools/qemu, a kernel."""
    write(root, "labs/manifest.json", json.dumps(manifest, indent=2))
    write(root, "a.c", source)
    write(root, "labs/hidden.json", json.dumps({"0": [{"name": "hidden-ok", "points": 1,
                                                       "domains": ["test=ok"]}]}))
    write(root, "secret/notes.md", "instructor notes\n")
    write(root, "obj/hv.elf", "not really a kernel\n")
    for lab in (0, 1, 2):
        write(root, "handouts/lab%d.md" % lab, "# lab %d\n" % lab)
    os.makedirs(os.path.join(root, "tools"), exist_ok=True)
    shutil.copy(os.path.join(ROOT, "tools", "qemu"), os.path.join(root, "tools", "qemu"))
    if git:
        env = dict(os.environ, **release.GIT_IDENTITY)
        for cmd in (["git", "init", "-q"], ["git", "add", "-A", "--", ".", ":!obj"],
                    ["git", "-c", "commit.gpgsign=false", "commit", "-qm", "tree"]):
            subprocess.run(cmd, cwd=root, env=env, check=True, stdout=subprocess.DEVNULL)


def read_file(path):
    """A file's text, or "" if it does not exist."""
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def run_of(lines, status=3, timed_out=False):
    """A gradelib.Run made of output lines."""
    return gradelib.Run(lines, status, 0.1, timed_out=timed_out)


def make_test(**spec):
    """A gradelib.Test of lab 0 with defaults for what spec leaves out."""
    base = {"name": "t", "points": 1, "domains": ["test=x"]}
    base.update(spec)
    return gradelib.Test(0, base)


GOOD_RUN = ["pvlab: booting", "(d0) TEST x", "(d0) PASS: a", "(d0) Test result: SUCCESS",
            "pvlab: exit success"]


class ParseTests(unittest.TestCase):
    """Judging serial output."""

    def test_append(self):
        self.assertEqual(make_test(domains=["test=cpuid", "test=idle"]).append(),
                         "-- test=cpuid -- test=idle")
        self.assertEqual(make_test(hvopts="sched=rr", domains=["mem=8M test=a"]).append(),
                         "sched=rr -- mem=8M test=a")

    def test_ok(self):
        self.assertEqual(gradelib.evaluate(make_test(expect=["TEST x", "PASS: a"]), run_of(GOOD_RUN)),
                         ("OK", []))

    def test_expect_in_order(self):
        verdict, problems = gradelib.evaluate(make_test(expect=["PASS: a", "TEST x"]), run_of(GOOD_RUN))
        self.assertEqual(verdict, "FAIL")
        self.assertIn("out of order", problems[0])
        verdict, problems = gradelib.evaluate(make_test(expect=["nowhere"]), run_of(GOOD_RUN))
        self.assertEqual(problems, ["missing: no line matches /nowhere/"])

    def test_expect_group_any_order(self):
        two = ["(d1) I am domU", "(d0) I am dom0", "pvlab: d0: poweroff"]
        group = [["^\\(d0\\) I am", "^\\(d1\\) I am"], "^pvlab: d0: poweroff"]
        self.assertEqual(gradelib.match_expect(group, two), [])
        self.assertEqual(gradelib.match_expect(group, [two[1], two[0], two[2]]), [])
        self.assertIn("out of order", gradelib.match_expect(group[0] + group[1:], two)[0])
        # each pattern of a group takes its own line, and the group ends at its last line
        self.assertEqual(gradelib.match_expect([["I am", "I am"]], two[:1]),
                         ["missing: no line matches /I am/"])
        self.assertIn("out of order", gradelib.match_expect([["dom0", "domU"], "domU"], two[:2])[0])
        errs = gradelib.check_test({"name": "t", "points": 1, "domains": ["a"], "expect": [[]]}, "m")
        self.assertTrue(errs and "non-empty lists" in errs[0], errs)
        errs = gradelib.check_test({"name": "t", "points": 1, "domains": ["a"], "expect": [["("]]}, "m")
        self.assertTrue(errs and "bad regular expression" in errs[0], errs)

    def test_reject(self):
        verdict, problems = gradelib.evaluate(make_test(reject=["PASS"]), run_of(GOOD_RUN))
        self.assertEqual(verdict, "FAIL")
        self.assertIn("line 3", problems[0])

    def test_wrong_result_is_fail(self):
        lines = GOOD_RUN[:3] + ["(d0) Test result: FAILURE", "pvlab: exit failure"]
        verdict, problems = gradelib.evaluate(make_test(), run_of(lines, 5))
        self.assertEqual(verdict, "FAIL")
        self.assertIn("d0: Test result: FAILURE, want SUCCESS", problems)
        self.assertTrue(any("want success (status 3), got failure (status 5)" in p for p in problems))

    def test_status_list(self):
        lines = GOOD_RUN[:4] + ["pvlab: exit failure"]
        self.assertEqual(gradelib.evaluate(make_test(status=["success", "failure"]), run_of(lines, 5))[0], "OK")

    def test_missing_result_is_crash(self):
        lines = ["(d0) TEST x", "pvlab: d0 crashed: triple fault", "pvlab: exit failure"]
        verdict, problems = gradelib.evaluate(make_test(), run_of(lines, 5))
        self.assertEqual(verdict, "CRASH")
        self.assertIn("no 'Test result' line", problems[0])

    def test_results_override(self):
        lines = ["(d0) Test result: SUCCESS", "pvlab: d1 crashed: boom", "pvlab: exit failure"]
        t = make_test(domains=["test=idle", "test=triple"], results={"d0": "SUCCESS"}, status="failure")
        self.assertEqual(gradelib.evaluate(t, run_of(lines, 5)), ("OK", []))

    def test_no_exit_line_is_crash(self):
        verdict, problems = gradelib.evaluate(make_test(), run_of(GOOD_RUN[:4], 0))
        self.assertEqual(verdict, "CRASH")
        self.assertIn("no 'pvlab: exit' line", problems[0])

    def test_panic_is_crash(self):
        lines = GOOD_RUN[:4] + ["pvlab: PANIC: oops", "pvlab: exit panic"]
        self.assertEqual(gradelib.evaluate(make_test(), run_of(lines, 7))[0], "CRASH")

    def test_status_mismatch(self):
        verdict, problems = gradelib.evaluate(make_test(), run_of(GOOD_RUN, 1))
        self.assertEqual(verdict, "FAIL")
        self.assertIn("QEMU exit status 1", problems[0])

    def test_two_result_lines(self):
        lines = GOOD_RUN[:4] + ["(d0) Test result: SUCCESS", "pvlab: exit success"]
        self.assertEqual(gradelib.evaluate(make_test(), run_of(lines))[0], "FAIL")

    def test_timeout(self):
        self.assertEqual(gradelib.evaluate(make_test(), run_of(GOOD_RUN, -9, timed_out=True))[0], "TIMEOUT")

    def test_forged_prefix_does_not_count(self):
        lines = ["(d1) (d0) Test result: SUCCESS", "(d1) pvlab: exit success"]
        self.assertEqual(gradelib.evaluate(make_test(), run_of(lines))[0], "CRASH")
        lines = ["(d0 log) Test result: SUCCESS", "(d0 log) pvlab: exit success", " pvlab: exit success"]
        self.assertEqual(gradelib.evaluate(make_test(), run_of(lines))[0], "CRASH")

    def test_second_exit_line_is_never_trusted(self):
        lines = GOOD_RUN[:4] + ["pvlab: exit success", "pvlab: exit success"]
        verdict, problems = gradelib.evaluate(make_test(), run_of(lines))
        self.assertEqual(verdict, "FAIL")
        self.assertIn("exit: 2 'pvlab: exit' lines, want exactly one", problems)


class ManifestTests(unittest.TestCase):
    """Loading and validating the manifest and hidden tests."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="kit-test-")
        self.addCleanup(shutil.rmtree, self.root)

    def load(self, manifest):
        """Write manifest into the temp tree and load it."""
        write(self.root, "labs/manifest.json", json.dumps(manifest, indent=2))
        return gradelib.load_manifest(self.root)

    def test_good(self):
        labs = self.load(MANIFEST)
        self.assertEqual(sorted(k for k in labs if k is not None), [0, 1, 2])
        tests = gradelib.all_tests(labs)
        self.assertEqual([t.id for t in gradelib.select_tests(tests, {0}, ["cr*"])], ["lab0/crash"])
        self.assertEqual(len(gradelib.select_tests(tests, None, ["lab1/*"])), 1)

    def test_bad(self):
        bad = json.loads(json.dumps(MANIFEST))
        bad["labs"][0]["tests"][0].update(expects=[], status="fine", results={"d5": "OK"})
        bad["labs"][0]["tests"][1]["expect"] = ["("]
        bad["labs"][1]["lab"] = 0
        with self.assertRaises(gradelib.ManifestError) as cm:
            self.load(bad)
        text = "\n".join(cm.exception.errors)
        for needle in ("unknown key 'expects'", "'status' must be", "'results' names 'd5'",
                       "must be one of SUCCESS", "bad regular expression", "lab 0 appears twice"):
            self.assertIn(needle, text)
        self.assertTrue(all(e.startswith("labs/manifest.json:") for e in cm.exception.errors))

    def test_syntax_error_has_line(self):
        write(self.root, "labs/manifest.json", '{\n  "labs": [\n  oops\n]}\n')
        with self.assertRaises(gradelib.ManifestError) as cm:
            gradelib.load_manifest(self.root)
        self.assertIn(":3:", cm.exception.errors[0])

    def test_hidden(self):
        labs = self.load(MANIFEST)
        path = write(self.root, "labs/hidden.json", json.dumps(
            {"0": [{"name": "secret", "points": 3, "domains": ["test=ok"]}]}))
        hidden = gradelib.load_hidden(path, labs)
        self.assertTrue(hidden[0][0].hidden)
        self.assertEqual([t.name for t in gradelib.all_tests(labs, hidden) if t.lab == 0][-1], "secret")
        write(self.root, "labs/hidden.json", json.dumps({"0": [{"name": "ok", "points": 1, "domains": ["x"]}],
                                                         "9": []}))
        with self.assertRaises(gradelib.ManifestError) as cm:
            gradelib.load_hidden(path, labs)
        self.assertEqual(len(cm.exception.errors), 2)


class MarkerTests(unittest.TestCase):
    """labs/check_markers.py on good and bad inputs."""

    def errors(self, text):
        """The parse errors of text as file x.c."""
        return check_markers.parse("x.c", textwrap.dedent(text))[1]

    def test_good(self):
        regions, errors = check_markers.parse("a.c", SOURCE)
        self.assertEqual(errors, [])
        self.assertEqual([(r.lab, r.if_line, r.else_line, r.endif_line) for r in regions],
                         [(0, 3, 5, 7), (1, 12, 18, 20), (2, 22, 24, 26)])

    def test_bad(self):
        cases = {
            "never nest": ("#if SOLUTION(1)\n#if SOLUTION(2)\n#else // SOLUTION(2)\nlab 2\n"
                       "#endif // SOLUTION(2)\n#else // SOLUTION(1)\nlab 1\n#endif // SOLUTION(1)\n"),
            "without '#if": "#else // SOLUTION(1)\n",
            "stub is mandatory": "#if SOLUTION(1)\nx\n#endif // SOLUTION(1)\n",
            "never closed": "#if SOLUTION(1)\nx\n#else // SOLUTION(1)\nlab 1\n",
            "must mention \"lab 1\"": "#if SOLUTION(1)\nx\n#else // SOLUTION(1)\nlab 11\n#endif // SOLUTION(1)\n",
            "malformed marker": "#if SOLUTION(1) // with a comment\n",
            "plain '#else'": "#if SOLUTION(1)\nx\n#else\nlab 1\n#endif // SOLUTION(1)\n",
            "closes SOLUTION(1)": "#if SOLUTION(1)\nx\n#else // SOLUTION(1)\nlab 1\n#endif // SOLUTION(2)\n",
        }
        for needle, text in cases.items():
            errs = self.errors(text)
            self.assertEqual(len(errs), 1, errs)
            self.assertIn(needle, errs[0])
            self.assertTrue(all(e.startswith("x.c:") for e in errs))

    def test_manifest_mismatch(self):
        root = tempfile.mkdtemp(prefix="kit-test-")
        self.addCleanup(shutil.rmtree, root)
        manifest = json.loads(json.dumps(MANIFEST))
        manifest["labs"][2]["files"] = ["b.c"]          # a.c has SOLUTION(2) but lab 2 lists b.c
        manifest["labs"][0]["files"].append("c.c")      # c.c has no SOLUTION(0)
        make_tree(root, manifest, SOURCE + "#if SOLUTION(7)\n#else // SOLUTION(7)\nlab 7\n#endif // SOLUTION(7)\n")
        write(root, "c.c", "int c;\n")
        subprocess.run(["git", "add", "c.c"], cwd=root, check=True)
        errors, warnings = check_markers.check(root)
        text = "\n".join(errors)
        self.assertIn("a.c:22: SOLUTION(2) but lab 2's \"files\"", text)
        self.assertIn("lab 2 lists b.c, which does not exist", text)
        self.assertIn("lab 0 lists c.c, which has no SOLUTION(0) markers", text)
        self.assertIn("a.c:27: SOLUTION(7) but labs/manifest.json has no lab 7", text)
        self.assertEqual(warnings, [])


class ReleaseTests(unittest.TestCase):
    """labs/release.py on a synthetic git tree (no build)."""

    def setUp(self):
        self.root = tempfile.mkdtemp(prefix="kit-test-")
        self.addCleanup(shutil.rmtree, self.root)
        make_tree(self.root)
        self.dest = os.path.join(self.root, "obj", "release")

    def release(self, lab, **kw):
        """Release lab into self.dest without building; returns a.c of the release."""
        release.make_release(self.root, lab, self.dest, do_build=False, log=lambda m: None, **kw)
        with open(os.path.join(self.dest, "a.c")) as f:
            return f.read()

    def test_lab1(self):
        text = self.release(1)
        self.assertIn("compute_the_zeroth_answer", text)            # lab 0: solution
        self.assertIn('panic("Lab 1: g not implemented")', text)     # lab 1: stub
        self.assertIn("lab 2: write second_lab_secret_function", text)
        self.assertNotIn("SOLUTION", text)
        self.assertNotIn("first_lab_secret_value", text)
        self.assertNotIn("return 0; /* lab 0", text)
        with open(os.path.join(self.dest, "labs", "released.json")) as f:
            self.assertEqual(json.load(f), {"lab": 1})
        self.assertFalse(os.path.exists(os.path.join(self.dest, "labs", "hidden.json")))
        self.assertFalse(os.path.exists(os.path.join(self.dest, "secret")))
        self.assertTrue(os.access(os.path.join(self.dest, "tools", "qemu"), os.X_OK))
        log = subprocess.run(["git", "log", "--format=%an %s"], cwd=self.dest, check=True,
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        self.assertEqual(log.strip(), "pvlab pvlab lab 1 release")

    def test_onto_course_repository(self):
        course = os.path.join(self.root, "obj", "course")
        git = lambda *a, **kw: subprocess.run(["git"] + list(a), check=True, stdout=subprocess.PIPE,
                                              universal_newlines=True, **kw).stdout.strip()
        git("init", "-q", "--bare", course)
        self.release(0, onto=course)
        shutil.rmtree(self.dest)
        self.release(1, onto=course)
        self.assertEqual(git("--git-dir", course, "rev-parse", "lab1^"),
                         git("--git-dir", course, "rev-parse", "lab0"))   # one history
        # A student's work on lab 0 merges the lab 1 release.
        student = os.path.join(self.root, "obj", "student")
        git("clone", "-q", "-b", "lab0", course, student)
        write(student, "mine.c", "int my_work;\n")
        env = dict(os.environ, **release.GIT_IDENTITY)
        git("add", "mine.c", cwd=student)
        git("commit", "-q", "-m", "my lab 0", cwd=student, env=env)
        git("merge", "-q", "--no-edit", "origin/lab1", cwd=student, env=env)
        with open(os.path.join(student, "labs", "released.json")) as f:
            self.assertEqual(json.load(f), {"lab": 1})
        self.assertTrue(os.path.exists(os.path.join(student, "mine.c")))
        with self.assertRaises(release.ReleaseError):                  # never overwrite a branch
            shutil.rmtree(self.dest)
            self.release(1, onto=course)

    def test_onto_clone_gives_newest_lab(self):
        course = os.path.join(self.root, "obj", "course")
        subprocess.run(["git", "init", "-q", "--bare", course], check=True)
        for lab in (0, 1):
            shutil.rmtree(self.dest, ignore_errors=True)
            self.release(lab, onto=course)
        clone = os.path.join(self.root, "obj", "clone")
        subprocess.run(["git", "clone", "-q", course, clone], check=True)   # no -b
        with open(os.path.join(clone, "labs", "released.json")) as f:
            self.assertEqual(json.load(f), {"lab": 1})

    def test_onto_refusals(self):
        course = os.path.join(self.root, "obj", "course")
        with self.assertRaises(release.ReleaseError) as cm:             # no repository
            self.release(0, onto=course)
        self.assertIn("git init --bare " + course, str(cm.exception))
        self.assertFalse(os.path.exists(self.dest))
        subprocess.run(["git", "init", "-q", "--bare", course], check=True)
        with self.assertRaises(release.ReleaseError) as cm:             # no lab0 branch
            self.release(1, onto=course)
        self.assertIn("has no branch lab0", str(cm.exception))
        heads = lambda: subprocess.run(["git", "--git-dir", course, "for-each-ref"], check=True,
                                       stdout=subprocess.PIPE, universal_newlines=True).stdout
        self.assertEqual(heads(), "")
        self.release(1, onto=course, force=True)
        self.assertIn("refs/heads/lab1", heads())

    def test_publish_only_after_build(self):
        course = os.path.join(self.root, "obj", "course")
        subprocess.run(["git", "init", "-q", "--bare", course], check=True)
        write(self.root, "Makefile", "all:\n\tfalse\n")              # the build check fails
        subprocess.run(["git", "add", "Makefile"], cwd=self.root, check=True)
        with self.assertRaises(release.ReleaseError) as cm:
            release.make_release(self.root, 0, self.dest, log=lambda m: None, onto=course)
        self.assertIn("does not build", str(cm.exception))
        out = subprocess.run(["git", "--git-dir", course, "for-each-ref"], check=True,
                             stdout=subprocess.PIPE, universal_newlines=True).stdout
        self.assertEqual(out, "")

    def test_student_readme(self):
        write(self.root, "README.md", "make qemu-nox  # boot\nmake test      # ours\n"
                                      "run `make release LAB=1` to release\nmake grade\n")
        subprocess.run(["git", "add", "README.md"], cwd=self.root, check=True)
        self.release(0)
        with open(os.path.join(self.dest, "README.md")) as f:
            self.assertEqual(f.read(), "make qemu-nox  # boot\nmake grade\n")

    def test_strip_earlier(self):
        text = self.release(1, strip_earlier=True, git=False)
        self.assertIn("return 0; /* lab 0", text)
        self.assertNotIn("compute_the_zeroth_answer", text)
        self.assertFalse(os.path.exists(os.path.join(self.dest, ".git")))

    def test_refuses_nonempty_dest(self):
        write(self.dest, "x", "x")
        with self.assertRaises(release.ReleaseError) as cm:
            self.release(0)
        self.assertIn("is not empty", str(cm.exception))

    def test_leak_is_caught(self):
        write(self.root, "docs/notes.md", "    int first_lab_secret_value = 1;\n"
                                          "    return first_lab_secret_value;\n")
        subprocess.run(["git", "add", "docs"], cwd=self.root, check=True)
        with self.assertRaises(release.ReleaseError) as cm:
            self.release(1)
        self.assertIn("docs/notes.md:1: solution of lab 1 (a.c:13)", str(cm.exception))
        self.assertFalse(os.path.exists(self.dest))                 # nothing half-made is left
        self.release(2)                                             # lab 1 is public in release 2

    def test_given_code_is_no_leak(self):
        write(self.root, "given.c", "int first_lab_secret_value = 1;\n")
        subprocess.run(["git", "add", "given.c"], cwd=self.root, check=True)
        self.assertNotIn("first_lab_secret_value", self.release(1))


class QemuTests(unittest.TestCase):
    """The grader against a fake QEMU: verdicts, timeouts, process groups, Ctrl-C."""

    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="kit-test-")
        make_tree(cls.root, git=False)
        cls.fake = write(cls.root, "fake-qemu", FAKE_QEMU.replace("PYTHON", sys.executable, 1))
        os.chmod(cls.fake, 0o755)
        cls.env = dict(os.environ, QEMU=cls.fake, FAKE_PIDFILE=os.path.join(cls.root, "pids"))
        cls.saved_env = dict(os.environ)
        os.environ.update(QEMU=cls.fake, FAKE_PIDFILE=cls.env["FAKE_PIDFILE"])
        cls.tests = {t.name: t for t in gradelib.all_tests(gradelib.load_manifest(cls.root))}

    @classmethod
    def tearDownClass(cls):
        os.environ.clear()
        os.environ.update(cls.saved_env)
        shutil.rmtree(cls.root)

    def run_test(self, name):
        """Run one test of the synthetic manifest through tools/qemu and the fake."""
        kernel = os.path.join(self.root, "obj", "hv.elf")
        return gradelib.run_test(self.tests[name], self.root, kernel)

    def assert_gone(self, pid):
        """Fail unless process pid has exited (allowing a moment for init to reap it)."""
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().split(")")[-1].split()[0] == "Z":
                        return
            except FileNotFoundError:
                return
            time.sleep(0.02)
        self.fail("process %d is still running" % pid)

    def test_verdicts(self):
        expected = {"ok": "OK", "fail": "FAIL", "crash": "CRASH", "panic": "CRASH", "qemu-error": "CRASH"}
        for name, verdict in expected.items():
            o = self.run_test(name)
            self.assertEqual(o.verdict, verdict, "%s: %s" % (name, o.problems))
            self.assertTrue(os.path.exists(o.log))
        report = "\n".join(gradelib.failure_report(self.run_test("crash")))
        self.assertIn(">>> (d0) lab 0: cpuid_filter not implemented", report)
        self.assertNotIn(">>> pvlab: lab 3", report)     # a later lab's stub is no lead
        self.assertIn("make qemu-nox ARGS='-- test=crash'", report)
        self.assertIn("make qemu-gdb ARGS='-- test=crash'", report)
        self.assertIn("QEMU itself failed (status 1)", "\n".join(self.run_test("qemu-error").problems))

    def test_report_shows_every_failed_check(self):
        test = gradelib.Test(1, {"name": "long", "points": 1, "domains": ["test=long"]})
        lines = ["(d0) PASS: check %d" % i for i in range(5)] + ["(d0) FAIL: the one that matters: got 1"]
        lines += ["(d0) PASS: check %d" % i for i in range(5, 40)] + ["(d0) Test result: FAILURE"]
        run = gradelib.Run(lines, 5, 0.1)
        report = gradelib.failure_report(gradelib.Outcome(test, "FAIL", [], run, "x.log"))
        self.assertIn("  | (d0) FAIL: the one that matters: got 1", report)
        self.assertEqual(report.index("failed checks:") + 1, report.index("  | (d0) FAIL: the one that matters: got 1"))
        many = gradelib.Run(["(d0) FAIL: %d" % i for i in range(30)], 5, 0.1)
        report = gradelib.failure_report(gradelib.Outcome(test, "FAIL", [], many, "x.log"))
        self.assertIn("  ... 20 more in the log", report)

    def test_timeout_kills_process_group(self):
        o = self.run_test("hang")
        self.assertEqual(o.verdict, "TIMEOUT")
        self.assertLess(o.run.elapsed, 5)
        with open(self.env["FAKE_PIDFILE"]) as f:
            for pid in map(int, f.read().split()):
                self.assert_gone(pid)

    def grade(self, *args, env=None):
        """Run grade.py on the synthetic tree: (status, stdout+stderr)."""
        r = subprocess.run([sys.executable, os.path.join(HERE, "grade.py"), "--root", self.root] + list(args),
                           env=env or self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           universal_newlines=True, timeout=30)
        return r.returncode, r.stdout

    def test_grade_and_gradescope(self):
        out_json = os.path.join(self.root, "results.json")
        status, out = self.grade("-j", "4", "--gradescope", out_json)
        self.assertEqual(status, 1, out)
        lines = out.split("\n")
        self.assertRegex(lines[0], r"^lab0/ok: OK \(\d+\.\d+s\)$")
        for word in ("lab0/fail: FAIL", "lab0/crash: CRASH", "lab0/hang: TIMEOUT", "lab0/hidden-ok: OK"):
            self.assertIn(word, out)
        self.assertIn("log: ", out)
        self.assertEqual(lines[-2], "Score: 18/53")
        with open(out_json) as f:
            check_gradescope(self, json.load(f))

    def test_selection_and_released(self):
        status, out = self.grade("--lab", "1")
        self.assertEqual((status, out.split("\n")[-2]), (0, "Score: 7/7"))
        status, out = self.grade("--test", "o*", "--list")
        self.assertEqual([l.split()[0] for l in out.split("\n") if l], ["lab0/ok", "lab1/ok1"])
        write(self.root, "labs/released.json", '{"lab": 0}')
        try:
            status, out = self.grade("--list")
            self.assertNotIn("lab1/", out)
        finally:
            os.unlink(os.path.join(self.root, "labs", "released.json"))
        status, out = self.grade("--test", "nothing")
        self.assertEqual(status, 2)
        self.assertIn("no test matches 'nothing'", out)

    def test_missing_tools(self):
        out_json = os.path.join(self.root, "setup-error.json")
        status, out = self.grade("--gradescope", out_json, env=dict(self.env, QEMU="no-such-qemu"))
        self.assertEqual((status, out.count("\n")), (2, 1))
        self.assertIn("no-such-qemu not found: install it with", out)
        with open(out_json) as f:
            results = json.load(f)
        self.assertEqual((results["score"], results["tests"]), (0, []))
        self.assertIn("not found", results["output"])
        status, out = self.grade("--kernel", "obj/none.elf")
        self.assertEqual((status, out.count("\n")), (2, 1))
        self.assertIn("run 'make' first", out)

    def test_ctrl_c_kills_every_qemu(self):
        pidfile = self.env["FAKE_PIDFILE"]
        if os.path.exists(pidfile):
            os.unlink(pidfile)
        proc = subprocess.Popen([sys.executable, os.path.join(HERE, "grade.py"), "--root", self.root,
                                 "--test", "hang", "--timeout-scale", "60"], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                                # a shell's background job starts with SIGINT ignored, and
                                # Python then never raises KeyboardInterrupt: undo that
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 10
        while not read_file(pidfile).endswith("\n"):
            self.assertLess(time.monotonic(), deadline, "the fake QEMU never started")
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
        self.assertEqual(proc.returncode, 130, out)
        self.assertIn("interrupted; killed 1 running QEMU", out)
        with open(pidfile) as f:
            for pid in map(int, f.read().split()):
                self.assert_gone(pid)


def check_gradescope(tc, results):
    """Assert that results follows Gradescope's results.json format
    (https://gradescope-autograders.readthedocs.io/en/latest/specs/#output-format)."""
    visibilities = {"hidden", "after_due_date", "after_published", "visible"}
    number = (int, float)
    tc.assertIsInstance(results["score"], number)
    tc.assertIsInstance(results.get("execution_time", 0), number)
    tc.assertIn(results.get("visibility", "visible"), visibilities)
    tc.assertIn(results.get("stdout_visibility", "hidden"), visibilities)
    tc.assertIsInstance(results["tests"], list)
    for t in results["tests"]:
        tc.assertTrue(set(t) <= {"score", "max_score", "status", "name", "name_format", "number",
                                 "output", "output_format", "tags", "visibility", "extra_data"}, t)
        tc.assertIsInstance(t["name"], str)
        tc.assertIsInstance(t["score"], number)
        tc.assertIsInstance(t["max_score"], number)
        tc.assertLessEqual(t["score"], t["max_score"])
        tc.assertIn(t["status"], ("passed", "failed"))
        tc.assertEqual(t["status"] == "passed", t["score"] == t["max_score"])
        tc.assertIsInstance(t["output"], str)
        tc.assertIn(t["visibility"], visibilities)
        tc.assertIsInstance(t.get("extra_data", {}), dict)
    tc.assertEqual(results["score"], sum(t["score"] for t in results["tests"]))
    hidden = [t for t in results["tests"] if t["name"] == "lab0/hidden-ok"]
    tc.assertEqual(hidden[0]["visibility"], "after_due_date")
    tc.assertEqual(json.loads(json.dumps(results)), results)


class DebuggingTests(unittest.TestCase):
    """Reports that point at the line: why a domain has no result, where a stub is, return
    addresses named by their call, and hang detection by QEMU's CPU time."""

    def test_why_no_result(self):
        cut = ["(d0) TEST x", "pvlab: d0 crashed: triple fault", "pvlab: dom0 crashed: ending the run",
               "pvlab: d1: still running (runnable)", "pvlab: exit failure"]
        t = make_test(domains=["test=a", "test=b"])
        problems = gradelib.evaluate(t, run_of(cut, 5))[1]
        self.assertIn("d0: no 'Test result' line (want SUCCESS): the domain crashed", problems)
        self.assertIn("d1: no 'Test result' line (want SUCCESS): cut off: dom0 crashed first, "
                      "which ends the run", problems)
        down = ["(d0) guest: PANIC: x", "pvlab: d0 shut down: crash", "pvlab: exit failure"]
        self.assertIn("shut itself down as crashed", gradelib.evaluate(t, run_of(down, 5))[1][0])
        panic = ["(d0) TEST x", "pvlab: unexpected #PF", "pvlab: exit panic"]
        self.assertIn("cut off: the hypervisor panicked first", gradelib.evaluate(t, run_of(panic, 7))[1][0])

    def test_stub_location(self):
        root = tempfile.mkdtemp(prefix="kit-test-")
        self.addCleanup(shutil.rmtree, root)
        write(root, "hv/a.c", "int x;\n\n\tlab_stub_warn(v, 1, \"do_thing\");\n")
        write(root, "guest/b.c", "\tpanic(\"lab 2: other not implemented\");\n")
        self.assertEqual(symbolize.stub_location(root, "pvlab: lab 1: do_thing not implemented (d0)"), "hv/a.c:3")
        self.assertEqual(symbolize.stub_location(root, "(d0) guest: PANIC: lab 2: other not implemented"), "guest/b.c:1")
        self.assertIsNone(symbolize.stub_location(root, "pvlab: lab 1: nowhere not implemented"))
        # The same name stubbed on both sides: a guest's line is the guest's stub.
        write(root, "guest/c.c", "\n\tlab_todo(\"lab 1: do_thing not implemented\");\n")
        self.assertEqual(symbolize.stub_location(root, "(d0) lab 1: do_thing not implemented"), "guest/c.c:2")
        self.assertEqual(symbolize.stub_location(root, "pvlab: lab 1: do_thing not implemented (d0)"), "hv/a.c:3")

    @unittest.skipUnless(shutil.which("gcc") and shutil.which("addr2line"), "needs gcc and binutils")
    def test_return_address_names_the_call(self):
        root = tempfile.mkdtemp(prefix="kit-test-")
        self.addCleanup(shutil.rmtree, root)
        # f ends with a call to a noreturn function, so its return address is g's first byte.
        write(root, "hv/t.c", "__attribute__((noreturn, noinline)) void die(void) { for (;;) __asm__ volatile(\"\"); }\n"
                              "__attribute__((noinline)) void f(void) { die(); }\n"
                              "void g(void) { }\n")
        elf = os.path.join(root, "obj", "hv.elf")
        os.makedirs(os.path.dirname(elf))
        subprocess.run(["gcc", "-g", "-O1", "-fno-align-functions", "-nostdlib", "-static", "-Wl,-e,g",
                        "-o", elf, "hv/t.c"], cwd=root, check=True)
        nm = subprocess.run(["nm", elf], stdout=subprocess.PIPE, universal_newlines=True).stdout
        g = int(next(l.split()[0] for l in nm.split("\n") if l.endswith(" g")), 16)
        named = symbolize.where(["pvlab: backtrace (addr2line -e obj/hv.elf ADDR): %x" % g], root)
        self.assertEqual(len(named), 1, named)
        self.assertRegex(named[0], r"^#1 [0-9a-f]+: f \(hv/t\.c:2\)$")

    def test_hang_is_counted_in_cpu_time(self):
        # A silent process that burns CPU is hung after `quiet` CPU seconds; one that sleeps
        # as long is not (a starved or idle QEMU is not a hung one).
        spin = [sys.executable, "-c", "print('booting', flush=True)\nwhile True: pass"]
        nap = [sys.executable, "-c", "import time; print('booting', flush=True); time.sleep(1.5); print('done')"]
        def watch(pid):
            return hang.Watch("/nonexistent/socket", pid, "/nonexistent/elf", "/nonexistent/elf", quiet=0.5)
        run = gradelib.run_qemu(spin, 20, watch=watch)
        self.assertTrue(run.hung)
        self.assertLess(run.elapsed, 15)
        self.assertIn("location is unknown", run.lines[-1])     # no monitor to ask
        run = gradelib.run_qemu(nap, 20, watch=watch)
        self.assertFalse(run.timed_out)
        self.assertEqual(run.lines, ["booting", "done"])


class AutograderTests(unittest.TestCase):
    """grade/autograder/autograde.py on a synthetic release (no QEMU): what it takes from a
    submission, and the results.json of a submission that does not build."""

    def test_takes_only_student_files(self):
        sys.path.insert(0, os.path.join(HERE, "autograder"))
        import autograde
        root = tempfile.mkdtemp(prefix="kit-test-")
        self.addCleanup(shutil.rmtree, root)
        src, sub, work = (os.path.join(root, d) for d in ("src", "sub", "work"))
        make_tree(src, git=False)
        write(src, "labs/released.json", '{"lab": 1}\n')
        write(src, "Makefile", "all:\n\t@echo building; false\n")
        write(sub, "a.c", "int mine;\n")
        write(sub, "Makefile", "all:\n\ttrue\n")                       # ignored
        write(sub, "labs/manifest.json", "{}")                            # ignored
        self.assertEqual(autograde.student_files(src), (1, ["a.c"]))
        results = os.path.join(root, "results.json")
        rc = autograde.autograde(src, sub, results, None, work, 1)
        self.assertEqual(rc, 2)
        with open(os.path.join(work, "a.c")) as f:
            self.assertEqual(f.read(), "int mine;\n")
        with open(os.path.join(work, "Makefile")) as f:
            self.assertIn("false", f.read())                              # the release's
        with open(os.path.join(work, "labs", "manifest.json")) as f:
            self.assertIn('"labs"', f.read())
        with open(results) as f:
            data = json.load(f)
        self.assertEqual(data["score"], 0.0)
        self.assertIn("graded your a.c", data["output"])
        self.assertIn("The build failed", data["output"])
        self.assertIn("building", data["output"])
        # A symlink is never followed: the release's file stays.
        sub2 = os.path.join(root, "sub2")
        os.makedirs(sub2)
        os.symlink("/etc/passwd", os.path.join(sub2, "a.c"))
        self.assertEqual(autograde.lay_files(sub2, work, ["a.c"]), ([], ["a.c"]))
        # A submission zipped as one top folder is found inside it.
        os.rename(sub, sub + "-x")
        os.makedirs(sub)
        os.rename(sub + "-x", os.path.join(sub, "pvlab"))
        self.assertEqual(autograde.submission_root(sub, ["a.c"]), os.path.join(sub, "pvlab"))


if __name__ == "__main__":
    unittest.main()
