"""gradelib: run pvlab tests in QEMU and judge their serial output.

The pieces, in the order grade.py uses them:

  load_manifest / load_hidden / select_tests   which tests exist and which to run
  run_qemu                                     boot one test, capture its serial output
  evaluate                                     OK / FAIL / CRASH / TIMEOUT, and why
  failure_report / gradescope_results          tell a student or Gradescope

Standard library only, Python 3.8+.  The output protocol is in docs/ARCHITECTURE.md and
docs/KIT.md.
"""
import fnmatch
import json
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import hang
import symbolize

EXIT_STATUS = {"success": 3, "failure": 5, "panic": 7, "config": 9}
RESULT_WORDS = ("SUCCESS", "FAILURE", "SKIP", "ERROR")
DEFAULT_TIMEOUT = 30.0
SKIP_STATUS = 77                # a launcher's "emulator not installed" (automake's skip code)
OUTPUT_LIMIT = 8 << 20          # bytes of serial output before a run is killed
TAIL_LINES = 15

EXIT_RE = re.compile(r"^pvlab: exit (\w+)\s*$")
RESULT_RE = re.compile(r"^\(d(\d+)\) Test result: (\w+)\s*$")
STUB_RE = re.compile(r"\blab (\d+): .*not implemented", re.IGNORECASE)
FAIL_RE = re.compile(r"^\(d\d+\) FAIL: ")
FAIL_LINES = 10                 # failed checks listed in a report (the log has them all)
TEST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
DOMAIN_RE = re.compile(r"^d\d+$")

TEST_KEYS = {"name", "points", "domains", "hvopts", "expect", "reject", "status",
             "results", "timeout", "quiet", "emulators"}
LAB_KEYS = {"lab", "name", "handout", "files", "tests"}
TOP_KEYS = {"labs", "instructor_only", "leak_allow"}


class ManifestError(Exception):
    """A manifest or hidden-test file is unreadable or breaks the schema (one line each)."""

    def __init__(self, errors):
        self.errors = errors if isinstance(errors, list) else [errors]
        super().__init__("; ".join(self.errors))


# ---------------------------------------------------------------------------------------
# The manifest.

class Test:
    """One graded run: a boot command line, what its output must show, and its points.
    lab is None for a system test (tests/system.json)."""

    def __init__(self, lab, spec, hidden=False):
        self.lab = lab
        self.name = spec["name"]
        self.points = spec.get("points", 0)
        self.domains = list(spec["domains"])
        self.hvopts = spec.get("hvopts", "")
        self.expect = list(spec.get("expect", []))    # a list entry: a group, any order
        self.reject = list(spec.get("reject", []))
        status = spec.get("status", "success")
        self.status = [status] if isinstance(status, str) else list(status)
        default = {"d%d" % i: "SUCCESS" for i in range(len(self.domains))}
        self.results = dict(spec.get("results", default))
        self.timeout = float(spec.get("timeout", DEFAULT_TIMEOUT))
        self.quiet = float(spec.get("quiet", hang.DEFAULT_QUIET))
        self.emulators = spec.get("emulators")      # None: every emulator
        self.hidden = hidden

    @property
    def group(self):
        """'lab0', or 'system' for a system test."""
        return "system" if self.lab is None else "lab%d" % self.lab

    @property
    def id(self):
        """The name students see: lab0/cpuid-signature."""
        return "%s/%s" % (self.group, self.name)

    @property
    def log_name(self):
        """The log file's name under obj/grade/."""
        return "%s-%s.log" % (self.group, self.name)

    def command_line(self):
        """The boot command line as written, '<hvopts> -- <dom0 args> -- <dom1 args> ...',
        with any {now} left in."""
        parts = [self.hvopts] if self.hvopts else []
        parts += ["-- " + d if d else "--" for d in self.domains]
        return " ".join(parts)

    def append(self, now=None):
        """The boot command line to boot: {now} becomes the Unix time (default: now)."""
        return self.command_line().replace("{now}", "%d" % (time.time() if now is None else now))


def json_line(text, needle):
    """The 1-based line of the first occurrence of needle in text (1 if absent)."""
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _lab_line(text, n):
    """The 1-based line of '"lab": n' in the manifest text (1 if absent)."""
    m = re.search(r'"lab"\s*:\s*%s\b' % re.escape(str(n)), text)
    return text.count("\n", 0, m.start()) + 1 if m else 1


def read_json(path):
    """Parse a JSON file; ManifestError with path:line on a syntax error."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ManifestError("%s: cannot read: %s" % (path, e.strerror))
    try:
        return json.loads(text), text
    except ValueError as e:
        line = getattr(e, "lineno", 1)
        raise ManifestError("%s:%d: not valid JSON: %s" % (path, line, getattr(e, "msg", e)))


def _is_number(v):
    """True for an int or float that is not a bool."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _str_list(v):
    """True if v is a list of strings."""
    return isinstance(v, list) and all(isinstance(s, str) for s in v)


def check_test(spec, where, system=False):
    """Schema errors of one test spec (a list of one-line messages prefixed by where); a
    system test may leave out points and boot the hypervisor's default domains ([])."""
    if not isinstance(spec, dict):
        return ["%s: a test must be an object" % where]
    errs = []
    name = spec.get("name")
    if not isinstance(name, str) or not TEST_NAME_RE.match(name):
        errs.append("%s: test name %r must be letters, digits, '-', '_' or '.'" % (where, name))
    where = "%s: test %s" % (where, name)
    for key in sorted(set(spec) - TEST_KEYS):
        if not key.startswith("_"):
            errs.append("%s: unknown key %r (known: %s)" % (where, key, ", ".join(sorted(TEST_KEYS))))
    points = spec.get("points", 0 if system else None)
    if not _is_number(points) or points < 0:
        errs.append("%s: 'points' must be a number >= 0" % where)
    domains = spec.get("domains")
    if not _str_list(domains) or not (domains or system):
        errs.append("%s: 'domains' must be a non-empty list of strings (dom0 first)" % where)
        domains = []
    for d in domains:
        if "--" in d.split():
            errs.append("%s: domain args %r must not contain '--'" % (where, d))
    if not isinstance(spec.get("hvopts", ""), str):
        errs.append("%s: 'hvopts' must be a string" % where)
    if "emulators" in spec and (not system or not _str_list(spec["emulators"]) or not spec["emulators"]):
        errs.append("%s: 'emulators' (a system test's only) must be a non-empty list of launcher names"
                    % where)
    for key in ("expect", "reject"):
        pats = spec.get(key, [])
        # expect may hold groups: a list of patterns that match in any order
        flat = [p for e in pats for p in (e if key == "expect" and _str_list(e) and e else [e])] \
            if isinstance(pats, list) else None
        if not _str_list(flat):
            errs.append("%s: '%s' must be a list of regular expressions%s" % (
                where, key, " (or of non-empty lists of them: any order)" if key == "expect" else ""))
            continue
        for p in flat:
            try:
                re.compile(p)
            except re.error as e:
                errs.append("%s: bad regular expression in '%s': %r: %s" % (where, key, p, e))
    status = spec.get("status", "success")
    words = [status] if isinstance(status, str) else status
    if not _str_list(words) or not words or any(w not in EXIT_STATUS for w in words):
        errs.append("%s: 'status' must be one of %s, or a list of them"
                    % (where, "|".join(EXIT_STATUS)))
    results = spec.get("results", {})
    if not isinstance(results, dict):
        errs.append("%s: 'results' must be an object like {\"d0\": \"SUCCESS\"}" % where)
        results = {}
    for dom, word in results.items():
        if not DOMAIN_RE.match(dom) or int(dom[1:]) >= max(len(domains), 1):
            errs.append("%s: 'results' names %r, but the test boots d0..d%d"
                        % (where, dom, len(domains) - 1))
        if word not in RESULT_WORDS:
            errs.append("%s: 'results' of %s must be one of %s" % (where, dom, "|".join(RESULT_WORDS)))
    timeout = spec.get("timeout", DEFAULT_TIMEOUT)
    if not _is_number(timeout) or timeout <= 0:
        errs.append("%s: 'timeout' must be a number of seconds > 0" % where)
    quiet = spec.get("quiet", hang.DEFAULT_QUIET)
    if not _is_number(quiet) or quiet <= 0:
        errs.append("%s: 'quiet' must be a number of seconds > 0" % where)
    return errs


def _check_lab(lab, where):
    """Schema errors of one lab entry of the manifest."""
    if not isinstance(lab, dict):
        return ["%s: a lab must be an object" % where]
    errs = ["%s: unknown key %r (known: %s)" % (where, k, ", ".join(sorted(LAB_KEYS)))
            for k in sorted(set(lab) - LAB_KEYS) if not k.startswith("_")]
    n = lab.get("lab")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        errs.append("%s: 'lab' must be a number >= 0" % where)
    if not isinstance(lab.get("name"), str):
        errs.append("%s: 'name' must be a string" % where)
    handout = lab.get("handout")
    if not isinstance(handout, str) or not handout.startswith("handouts/"):
        errs.append("%s: 'handout' must be a path under handouts/" % where)
    if not _str_list(lab.get("files", [])):
        errs.append("%s: 'files' must be a list of paths" % where)
    tests = lab.get("tests")
    if not isinstance(tests, list):
        return errs + ["%s: 'tests' must be a list" % where]
    for t in tests:
        errs += check_test(t, where)
    return errs


def load_manifest(root):
    """Read and validate ROOT/labs/manifest.json; returns {lab number: lab dict} plus the
    top-level dict as key None.  Raises ManifestError listing every problem."""
    path = os.path.join(root, "labs", "manifest.json")
    data, text = read_json(path)
    rel = "labs/manifest.json"
    if not isinstance(data, dict) or not isinstance(data.get("labs"), list):
        raise ManifestError("%s:1: the manifest must be an object with a 'labs' list" % rel)
    errs = ["%s:1: unknown top-level key %r (known: %s)" % (rel, k, ", ".join(sorted(TOP_KEYS)))
            for k in sorted(set(data) - TOP_KEYS) if not k.startswith("_")]
    for key in ("instructor_only", "leak_allow"):
        if not _str_list(data.get(key, [])):
            errs.append("%s:%d: '%s' must be a list of strings" % (rel, json_line(text, key), key))
    labs, seen = {}, set()
    for i, lab in enumerate(data["labs"]):
        n = lab.get("lab") if isinstance(lab, dict) else None
        where = "%s:%d: lab %s" % (rel, _lab_line(text, n), n if n is not None else "#%d" % i)
        if n in seen:
            errs.append("%s: lab %s appears twice" % (where, n))
        seen.add(n)
        lab_errs = _check_lab(lab, where)
        errs += lab_errs
        if lab_errs:
            continue
        names = [t["name"] for t in lab["tests"]]
        for dup in sorted({x for x in names if names.count(x) > 1}):
            errs.append("%s: test %s appears twice" % (where, dup))
        labs[n] = lab
    if errs:
        raise ManifestError(errs)
    labs[None] = data
    return labs


def load_hidden(path, manifest):
    """Read a hidden-test file ({"<lab>": [tests]}) into {lab: [Test]}; ManifestError on
    any problem, including a lab the manifest lacks or a name clash with a public test."""
    data, text = read_json(path)
    if not isinstance(data, dict):
        raise ManifestError("%s:1: hidden tests must be an object keyed by lab number" % path)
    errs, hidden = [], {}
    for key, specs in data.items():
        if key.startswith("_"):
            continue
        where = "%s:%d: lab %s" % (path, json_line(text, '"%s"' % key), key)
        if not key.isdigit() or int(key) not in manifest:
            errs.append("%s: not a lab of labs/manifest.json" % where)
            continue
        if not isinstance(specs, list):
            errs.append("%s: must be a list of tests" % where)
            continue
        lab = int(key)
        public = {t["name"] for t in manifest[lab]["tests"]}
        for spec in specs:
            e = check_test(spec, where)
            if not e and spec["name"] in public:
                e = ["%s: hidden test %s has the name of a public test" % (where, spec["name"])]
            errs += e
            if not e:
                hidden.setdefault(lab, []).append(Test(lab, spec, hidden=True))
    if errs:
        raise ManifestError(errs)
    return hidden


def load_system(root):
    """The system tests of ROOT/tests/system.json and ROOT/tests/system/*.json (one file per
    area, so that work on different areas adds tests without touching one shared list); each
    file is {"tests": [...]}, points optional, and names are unique across all of them."""
    paths = [os.path.join(root, "tests", "system.json")]
    extra = os.path.join(root, "tests", "system")
    if os.path.isdir(extra):
        paths += [os.path.join(extra, f) for f in sorted(os.listdir(extra)) if f.endswith(".json")]
    errs, specs, names = [], [], []
    for path in paths:
        data, text = read_json(path)
        rel = os.path.relpath(path, root)
        if not isinstance(data, dict) or not isinstance(data.get("tests"), list):
            errs.append("%s:1: must be an object with a 'tests' list" % rel)
            continue
        for spec in data["tests"]:
            name = spec.get("name") if isinstance(spec, dict) else None
            errs += check_test(spec, "%s:%d" % (rel, json_line(text, '"%s"' % name)), system=True)
            if name in names:
                errs.append("%s:%d: test %s appears twice" % (rel, json_line(text, '"%s"' % name), name))
            names.append(name)
        specs += data["tests"]
    if errs:
        raise ManifestError(errs)
    return [Test(None, spec) for spec in specs]


def released_lab(root):
    """The lab number in ROOT/labs/released.json (a student release), or None."""
    path = os.path.join(root, "labs", "released.json")
    if not os.path.exists(path):
        return None
    data, _ = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("lab"), int):
        raise ManifestError("%s:1: must be {\"lab\": N}" % path)
    return data["lab"]


def all_tests(manifest, hidden=None):
    """Every Test of the manifest, lab by lab, each lab's hidden tests after its public ones."""
    tests = []
    for n in sorted(k for k in manifest if k is not None):
        tests += [Test(n, spec) for spec in manifest[n]["tests"]]
        tests += (hidden or {}).get(n, [])
    return tests


def select_tests(tests, labs=None, patterns=None):
    """The tests of the given labs (all if None) whose name or id matches a glob pattern."""
    chosen = [t for t in tests if labs is None or t.lab in labs]
    if patterns:
        chosen = [t for t in chosen
                  if any(fnmatch.fnmatchcase(t.name, p) or fnmatch.fnmatchcase(t.id, p)
                         for p in patterns)]
    return chosen


# ---------------------------------------------------------------------------------------
# Running QEMU.  Every QEMU runs in its own session (process group) so that a timeout or
# Ctrl-C can kill it and anything it started, and none is ever left behind.

_running = set()
_running_lock = threading.Lock()
_stopping = threading.Event()


class Interrupted(Exception):
    """Raised by run_qemu when kill_all() has been called: start nothing new."""


class Run:
    """What one QEMU run produced: output lines, exit status, time, and how it ended."""

    def __init__(self, lines, status, elapsed, timed_out=False, error=None):
        self.lines = lines
        self.status = status        # QEMU's exit status; negative: killed by that signal
        self.elapsed = elapsed
        self.timed_out = timed_out
        self.error = error          # why the run was cut short or never started, or None


def _kill_group(proc):
    """SIGKILL proc's whole process group; call only while proc is not yet reaped."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def kill_all():
    """Kill every running QEMU and refuse to start new ones (for Ctrl-C); returns how many."""
    _stopping.set()
    with _running_lock:
        procs = list(_running)
    for proc in procs:
        _kill_group(proc)
    return len(procs)


def _read_until_exit(proc, deadline, watch=None):
    """Read proc's stdout until EOF, the deadline, the output limit or (with a hang.Watch)
    a hang: (bytes, why_cut)."""
    data = bytearray()
    fd = proc.stdout.fileno()
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return data, "timeout"
            if not sel.select(min(left, hang.POLL) if watch else left):
                if watch and watch.hung():
                    return data, "hang"
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return data, None
            data += chunk
            if watch:
                watch.output()
            if len(data) > OUTPUT_LIMIT:
                return data, "more than %d MiB of output" % (OUTPUT_LIMIT >> 20)


def run_qemu(cmd, timeout, cwd=None, env=None, watch=None):
    """Run cmd (tools/qemu ...) in a new session with a timeout, streaming its output;
    returns a Run.  watch(pid), if given, makes the hang.Watch that cuts a run short when
    it stops making progress and says where the CPU was.  The process group is always dead
    when this returns."""
    if _stopping.is_set():
        raise Interrupted()
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                start_new_session=True)
    except OSError as e:
        return Run([], None, 0.0, error="cannot run %s: %s" % (cmd[0], e.strerror))
    with _running_lock:
        _running.add(proc)
    why = None
    try:
        w = watch(proc.pid) if watch else None
        data, why = _read_until_exit(proc, start + timeout, w)
        if why is None:
            try:    # EOF: QEMU is exiting; give it a moment past the deadline to do so
                proc.wait(max(start + timeout - time.monotonic(), 1.0))
            except subprocess.TimeoutExpired:
                why = "timeout"
        if why in ("timeout", "hang") and w and proc.returncode is None:
            how = ("after %gs without progress" % w.quiet if why == "hang"
                   else "at the %gs time limit" % timeout)
            data += ("\n" + "\n".join(w.where(how)) + "\n").encode()
    finally:
        if proc.returncode is None:
            _kill_group(proc)
            proc.wait()
        with _running_lock:
            _running.discard(proc)
        proc.stdout.close()
    if _stopping.is_set():
        raise Interrupted()
    text = data.decode("utf-8", errors="replace").replace("\r", "")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    run = Run(lines, proc.returncode, time.monotonic() - start,
              timed_out=why in ("timeout", "hang"), error=why if why not in ("timeout", "hang") else None)
    run.hung = why == "hang"
    return run


# ---------------------------------------------------------------------------------------
# Judging a run.

def exit_word(lines):
    """The word of the last 'pvlab: exit <word>' line, or None."""
    for line in reversed(lines):
        m = EXIT_RE.match(line)
        if m:
            return m.group(1)
    return None


def domain_results(lines):
    """{'d0': ['SUCCESS'], ...}: every 'Test result' word each domain printed, in order."""
    results = {}
    for line in lines:
        m = RESULT_RE.match(line)
        if m:
            results.setdefault("d" + m.group(1), []).append(m.group(2))
    return results


def match_expect(patterns, lines):
    """Problems with the expect patterns, which must match lines in this order.  An entry
    that is a list is a group: its patterns match in any order (each its own line), after
    the previous entry and before the next -- for lines of independent domains, whose
    order no test can rely on."""
    problems, at = [], 0
    for entry in patterns:
        group = entry if isinstance(entry, list) else [entry]
        used, last = set(), None
        for pat in group:
            rx = re.compile(pat)
            hit = next((i for i in range(at, len(lines)) if i not in used and rx.search(lines[i])), None)
            if hit is not None:
                used.add(hit)
                last = hit if last is None else max(last, hit)
                continue
            earlier = next((i for i in range(at) if rx.search(lines[i])), None)
            if earlier is None:
                problems.append("missing: no line matches /%s/" % pat)
            else:
                problems.append("out of order: /%s/ matched only line %d, before the previous "
                                "expectation" % (pat, earlier + 1))
        if last is not None:
            at = last + 1
    return problems


def match_reject(patterns, lines):
    """Problems with the reject patterns: each line that one of them matches."""
    problems = []
    for pat in patterns:
        rx = re.compile(pat)
        for i, line in enumerate(lines):
            if rx.search(line):
                problems.append("rejected: /%s/ matched line %d: %s" % (pat, i + 1, line))
                break
    return problems


def _status_problems(test, run, word, strict):
    """Problems with how the run ended: the 'pvlab: exit' word and, if strict, the exit
    status that must agree with it."""
    want = " or ".join("%s (status %d)" % (w, EXIT_STATUS[w]) for w in test.status)
    if run.timed_out:
        return []
    if word is None:
        how = {1: "QEMU itself failed (status 1)", 0: "QEMU exited with status 0 (a reset?)"}
        return ["exit: want %s, got no 'pvlab: exit' line; %s" % (
            want, how.get(run.status, "exit status %s" % run.status) if strict else "status %s" % run.status)]
    problems = []
    # The hypervisor prints this line once, as its last; more than one means a line we did
    # not write (guest text must only ever appear after a "(dN" prefix): never trust it.
    n = sum(1 for line in run.lines if EXIT_RE.match(line))
    if n > 1:
        problems.append("exit: %d 'pvlab: exit' lines, want exactly one" % n)
    if word not in test.status:
        problems.append("exit: want %s, got %s (status %s)" % (want, word, run.status))
    if strict and EXIT_STATUS.get(word) != run.status:
        problems.append("exit: 'pvlab: exit %s' but QEMU exit status %s (want %s)"
                        % (word, run.status, EXIT_STATUS.get(word, "?")))
    return problems


def why_no_result(dom, run):
    """Why domain dom ('d1') printed no 'Test result' line, as far as the output tells: it
    crashed, the run ended around it (dom0 crashed, the hypervisor panicked, a hang), or
    unknown."""
    lines = run.lines if run else []
    if any(l.startswith("pvlab: %s crashed: " % dom) for l in lines):
        return "the domain crashed"
    if any(l.startswith("pvlab: %s shut down: crash" % dom) for l in lines):
        return "the domain shut itself down as crashed (a guest panic?)"
    if dom != "d0" and any(l.startswith("pvlab: d0 crashed: ") for l in lines):
        return "cut off: dom0 crashed first, which ends the run"
    if exit_word(lines) == "panic":
        return "cut off: the hypervisor panicked first"
    if run and run.timed_out:
        return "the run hung or timed out first"
    if any(l.startswith("pvlab: %s: still running" % dom) for l in lines):
        return "still running when the run ended"
    return "the domain crashed or hung"


def _result_problems(test, results, run=None):
    """Problems with the per-domain 'Test result' lines, and the domains that printed none."""
    problems, missing = [], []
    for dom in sorted(test.results, key=lambda d: int(d[1:])):
        want, got = test.results[dom], results.get(dom, [])
        if not got:
            missing.append(dom)
            problems.append("%s: no 'Test result' line (want %s): %s"
                            % (dom, want, why_no_result(dom, run)))
        elif len(got) > 1:
            problems.append("%s: %d 'Test result' lines, want exactly one" % (dom, len(got)))
        elif got[0] != want:
            problems.append("%s: Test result: %s, want %s" % (dom, got[0], want))
    return problems, missing


def evaluate(test, run, strict=True):
    """Judge a Run against a Test: (verdict, problems), verdict one of OK, FAIL, CRASH,
    TIMEOUT or SKIP.  CRASH: a required domain never printed its result line, the hypervisor
    panicked unexpectedly, or no 'pvlab: exit' line came.  SKIP: the launcher exited 77 (its
    emulator is not installed).  strict: the launcher's exit status must agree with the exit
    word (tools/qemu and tools/bochs both take it from the hypervisor, not from its output)."""
    lines = run.lines
    if run.status == SKIP_STATUS and not run.timed_out:
        return "SKIP", ["skipped: the launcher exited 77: " + (lines[-1] if lines else "no reason given")]
    problems = ["error: " + run.error] if run.error else []
    if getattr(run, "hung", False):
        problems.append("hang: no output and no VM exit for %gs of QEMU's CPU time: killed "
                        "after %.1fs (where: below says where the CPU was)" % (test.quiet, run.elapsed))
    elif run.timed_out:
        problems.append("timeout: no exit within %.1fs: killed" % run.elapsed)
    word = exit_word(lines)
    result_problems, missing = _result_problems(test, domain_results(lines), run)
    problems += result_problems
    problems += _status_problems(test, run, word, strict)
    problems += match_expect(test.expect, lines)
    problems += match_reject(test.reject, lines)
    if run.timed_out:
        verdict = "TIMEOUT"
    elif missing or word is None or (word == "panic" and "panic" not in test.status):
        verdict = "CRASH"
    else:
        verdict = "FAIL" if problems else "OK"
    return verdict, problems


def run_watched(cmd, test, root, kernel, scale, emu):
    """run_qemu for one test; under QEMU with its monitor on a socket, so that hang.Watch
    can read the heartbeat and say where a hung CPU was (Bochs: the time limit only)."""
    if emu != "qemu":
        return run_qemu(cmd, test.timeout * scale, cwd=root)
    mondir = tempfile.mkdtemp(prefix="pvlab-mon-")
    sock = os.path.join(mondir, "m")
    env = dict(os.environ, QEMUEXTRA=(os.environ.get("QEMUEXTRA", "") +
                                      " -monitor unix:%s,server=on,wait=off" % sock).strip())
    guest = os.path.join(os.path.dirname(kernel), "guest", "guest.elf")
    try:
        return run_qemu(cmd, test.timeout * scale, cwd=root, env=env, watch=lambda pid:
                        hang.Watch(sock, pid, kernel, guest, test.quiet * scale))
    finally:
        shutil.rmtree(mondir, ignore_errors=True)


def run_test(test, root, kernel, scale=1.0, logdir=None, emu="qemu"):
    """Boot one test through ROOT/tools/<emu> (tools/qemu), judge it and write its log (by
    default ROOT/obj/grade/labN-name.log, or bochs-labN-name.log under another emulator, so
    that make test's Bochs suite keeps the QEMU suite's logs); returns an Outcome.  Raises
    Interrupted after kill_all()."""
    cmd = [os.path.join(root, "tools", emu), kernel, test.append()]
    run = run_watched(cmd, test, root, kernel, scale, emu)
    verdict, problems = evaluate(test, run, strict=True)
    name = test.log_name if emu == "qemu" else "%s-%s" % (emu, test.log_name)
    log = os.path.join(logdir or os.path.join(root, "obj", "grade"), name)
    write_log(log, test, cmd, run, verdict, problems)
    outcome = Outcome(test, verdict, problems, run, log, emu)
    outcome.root = root         # where obj/hv.elf is, for symbolize.py
    return outcome


# ---------------------------------------------------------------------------------------
# Reporting.

class Outcome:
    """A finished test: its verdict, the problems found, the run and the log's path."""

    def __init__(self, test, verdict, problems, run, log, emu="qemu"):
        self.emu = emu
        self.test = test
        self.verdict = verdict
        self.problems = problems
        self.run = run
        self.log = log

    @property
    def ok(self):
        """True if the test earned its points."""
        return self.verdict == "OK"

    @property
    def score(self):
        """Points earned: all or nothing."""
        return self.test.points if self.ok else 0

    def headline(self):
        """'lab0/cpuid-signature: OK (0.4s)'."""
        return "%s: %s (%.1fs)" % (self.test.id, self.verdict, self.run.elapsed)


def write_log(path, test, cmd, run, verdict, problems):
    """Write a run's full output with a header and a footer naming the verdict."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write("# %s: %s\n" % (test.id, " ".join(shlex.quote(c) for c in cmd)))
        for line in run.lines:
            f.write(line + "\n")
        f.write("# QEMU exit status %s after %.1fs: %s\n" % (run.status, run.elapsed, verdict))
        for p in problems:
            f.write("#   %s\n" % p)


def shell_args(test):
    """The test's command line quoted for a shell, {now} as "$(date +%s)"."""
    parts = test.command_line().split("{now}")
    return '"$(date +%s)"'.join(shlex.quote(p) if p else "" for p in parts)


def rerun_commands(test, root_arg=""):
    """The make commands that reproduce a test by hand (root_arg: '-C DIR ' or '')."""
    args = "ARGS=" + shell_args(test)
    return ["make %sqemu-nox %s" % (root_arg, args),
            "make %sqemu-gdb %s   (then 'make %sgdb' in another terminal)" % (root_arg, args, root_arg)]


def relevant_stub(line, lab):
    """Is line a 'lab N: ... not implemented' message that matters to a test of lab (None:
    any)?  The stubs of later labs are in a student's tree too, and say so at boot: a lab 1
    student must not be sent to lab 3's time_scale_init."""
    m = STUB_RE.search(line)
    return bool(m) and (lab is None or int(m.group(1)) <= lab)


def failure_report(outcome, root_arg="", log_shown=None):
    """The lines printed under a failed test: not-implemented stubs, problems, the failed
    checks, the output's tail, the log and the commands to reproduce the run."""
    out = []
    stubs = [l for l in outcome.run.lines if relevant_stub(l, outcome.test.lab)]
    root = getattr(outcome, "root", None)
    for line in stubs[:5]:
        at = symbolize.stub_location(root, line)
        out.append(">>> " + (at + ": " if at else "") + line)
    out += outcome.problems
    # Every failed check, even one far above the tail (a long test's last lines are PASSes).
    fails = [l for l in outcome.run.lines if FAIL_RE.match(l)]
    if fails:
        out.append("failed checks:")
        out += ["  | " + l for l in fails[:FAIL_LINES]]
        if len(fails) > FAIL_LINES:
            out.append("  ... %d more in the log" % (len(fails) - FAIL_LINES))
    named = symbolize.where(outcome.run.lines, root) if root else []
    if named:
        out.append("where (addr2line):")
        out += ["  " + l for l in named]
    tail = outcome.run.lines[-TAIL_LINES:]
    if tail:
        out.append("last %d lines of output:" % len(tail))
        out += ["  | " + l for l in tail]
    else:
        out.append("no output at all")
    out.append("log: " + (log_shown or outcome.log))
    if outcome.emu == "qemu":
        nox, gdb = rerun_commands(outcome.test, root_arg)
        out += ["rerun: " + nox, "debug: " + gdb]
    else:
        out.append("rerun: tools/%s KERNEL %s" % (outcome.emu, shell_args(outcome.test)))
    return out


def gradescope_results(outcomes, elapsed):
    """The Gradescope autograder results.json dict for these outcomes (their documented
    format: score, execution_time, tests[] with name/score/max_score/status/output)."""
    tests = []
    for o in outcomes:
        body = "" if o.ok else "\n" + "\n".join(failure_report(o, log_shown=o.test.log_name))
        tests.append({
            "name": o.test.id,
            "score": float(o.score),
            "max_score": float(o.test.points),
            "status": "passed" if o.ok else "failed",
            "output": o.headline() + body,
            "visibility": "after_due_date" if o.test.hidden else "visible",
            "extra_data": {"verdict": o.verdict, "execution_time": round(o.run.elapsed, 2)},
        })
    return {
        "score": float(sum(o.score for o in outcomes)),
        "execution_time": int(round(elapsed)),
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
