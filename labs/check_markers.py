#!/usr/bin/env python3
"""check_markers.py: check the lab solution markers against labs/manifest.json.

Every piece of student work is written as exactly these three lines (leading blanks allowed):

    #if SOLUTION(3)
        ... the reference solution ...
    #else // SOLUTION(3)
        ... the student stub, which must mention "lab 3" ...
    #endif // SOLUTION(3)

Markers never nest, the #else part is mandatory, the lab must be in the manifest, and each
lab's "files" must be exactly the files that carry its markers.  Errors are printed one per
line as `path:line: message`; the exit status is 1 if there is any.  release.py uses parse()
to strip the same regions.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "grade"))
import gradelib  # noqa: E402

SOURCE_SUFFIXES = (".c", ".h", ".S", ".s")
IF_RE = re.compile(r"^\s*#if SOLUTION\((\d+)\)\s*$")
ELSE_RE = re.compile(r"^\s*#else // SOLUTION\((\d+)\)\s*$")
ENDIF_RE = re.compile(r"^\s*#endif // SOLUTION\((\d+)\)\s*$")
ANY_MARKER_RE = re.compile(r"^\s*#\s*(if|ifdef|ifndef|elif|else|endif)\b.*\bSOLUTION\b")
PP_OPEN_RE = re.compile(r"^\s*#\s*if(n?def)?\b")
PP_ELSE_RE = re.compile(r"^\s*#\s*(else|elif)\b")
PP_END_RE = re.compile(r"^\s*#\s*endif\b")
FORMS = "'#if SOLUTION(n)', '#else // SOLUTION(n)', '#endif // SOLUTION(n)'"


class Region:
    """One marked region; line numbers are 1-based, of the three marker lines."""

    def __init__(self, lab, if_line):
        self.lab = lab
        self.if_line = if_line
        self.else_line = None
        self.endif_line = None

    def solution(self, lines):
        """The solution's lines (between #if and #else)."""
        return lines[self.if_line:self.else_line - 1]

    def stub(self, lines):
        """The stub's lines (between #else and #endif)."""
        return lines[self.else_line:self.endif_line - 1]


class _Parser:
    """State while scanning one file: the open region and the depth of plain #ifs in it."""

    def __init__(self, path, lines):
        self.path, self.lines = path, lines
        self.regions, self.errors = [], []
        self.open = None
        self.depth = 0
        self.nested = []        # labs of wrongly nested #if SOLUTION, whose #else/#endif we skip

    def error(self, line, msg):
        """Record 'path:line: msg'."""
        self.errors.append("%s:%d: %s" % (self.path, line, msg))

    def on_if(self, n, lab):
        """'#if SOLUTION(lab)' at line n."""
        if self.open:
            self.error(n, "SOLUTION(%d) inside SOLUTION(%d) opened at line %d: markers never nest"
                       % (lab, self.open.lab, self.open.if_line))
            self.nested.append(lab)
            return
        self.open, self.depth = Region(lab, n), 0

    def on_else(self, n, lab):
        """'#else // SOLUTION(lab)' at line n."""
        r = self.open
        if self.nested and self.nested[-1] == lab:
            return
        if not r:
            self.error(n, "'#else // SOLUTION(%d)' without '#if SOLUTION(%d)'" % (lab, lab))
        elif lab != r.lab:
            self.error(n, "'#else // SOLUTION(%d)' in SOLUTION(%d) opened at line %d"
                       % (lab, r.lab, r.if_line))
        elif r.else_line:
            self.error(n, "second '#else // SOLUTION(%d)' (the first is at line %d)" % (lab, r.else_line))
        else:
            if self.depth:
                self.error(n, "a plain #if in the solution is still open at '#else // SOLUTION(%d)'" % lab)
            r.else_line, self.depth = n, 0

    def on_endif(self, n, lab):
        """'#endif // SOLUTION(lab)' at line n."""
        r = self.open
        if self.nested and self.nested[-1] == lab:
            self.nested.pop()
            return
        if not r:
            self.error(n, "'#endif // SOLUTION(%d)' without '#if SOLUTION(%d)'" % (lab, lab))
            return
        if lab != r.lab:
            self.error(n, "'#endif // SOLUTION(%d)' closes SOLUTION(%d) opened at line %d"
                       % (lab, r.lab, r.if_line))
        elif not r.else_line:
            self.error(r.if_line, "SOLUTION(%d) has no '#else // SOLUTION(%d)': the student stub "
                       "is mandatory" % (lab, lab))
        else:
            if self.depth:
                self.error(n, "a plain #if in the stub is still open at '#endif // SOLUTION(%d)'" % lab)
            r.endif_line = n
            self.check_stub(r)
            self.regions.append(r)
        self.open = None

    def check_stub(self, r):
        """The stub of a closed region must mention 'lab N'."""
        text = "\n".join(r.stub(self.lines))
        if not re.search(r"\blab %d\b" % r.lab, text, re.IGNORECASE):
            self.error(r.else_line, "the stub of SOLUTION(%d) must mention \"lab %d\" "
                       "(e.g. panic(\"lab %d: <function> not implemented\"))" % (r.lab, r.lab, r.lab))

    def on_plain(self, n, line):
        """A line that is no marker: track plain #if/#else/#endif inside a region."""
        if ANY_MARKER_RE.match(line):
            self.error(n, "malformed marker: write exactly one of %s" % FORMS)
        elif not self.open:
            return
        elif PP_OPEN_RE.match(line):
            self.depth += 1
        elif PP_END_RE.match(line) or PP_ELSE_RE.match(line):
            end = PP_END_RE.match(line) is not None
            if self.depth:
                self.depth -= end
                return
            r = self.open
            self.error(n, "plain '%s' inside SOLUTION(%d) opened at line %d: write '%s // "
                       "SOLUTION(%d)'" % (line.strip(), r.lab, r.if_line,
                                          "#endif" if end else "#else", r.lab))
            if end:                     # take it as meant, to avoid a cascade of errors
                self.open = None
            elif not r.else_line:
                r.else_line = n

    def run(self):
        """Scan every line; returns (regions, errors)."""
        for n, line in enumerate(self.lines, 1):
            for rx, handler in ((IF_RE, self.on_if), (ELSE_RE, self.on_else), (ENDIF_RE, self.on_endif)):
                m = rx.match(line)
                if m:
                    handler(n, int(m.group(1)))
                    break
            else:
                self.on_plain(n, line)
        if self.open:
            self.error(self.open.if_line, "SOLUTION(%d) is never closed" % self.open.lab)
        return self.regions, self.errors


def parse(path, text):
    """Find the marked regions of a file's text: (list of Region, list of error lines)."""
    return _Parser(path, text.split("\n")).run()


def tracked_files(root):
    """The files git tracks under root (relative paths); every file if root is no git tree."""
    try:
        out = subprocess.run(["git", "-C", root, "ls-files", "-z"], check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        found = []
        for d, dirs, files in os.walk(root):
            dirs[:] = [x for x in dirs if x not in (".git", "obj")]
            found += [os.path.relpath(os.path.join(d, f), root) for f in files]
        return sorted(found)


def read_text(path):
    """A file's text, or None if it is missing or not UTF-8 text."""
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError):
        return None


def scan_tree(root, files=None):
    """Parse every source file: ({path: [Region]} for files with markers, errors)."""
    marked, errors = {}, []
    for rel in files if files is not None else tracked_files(root):
        if not rel.endswith(SOURCE_SUFFIXES):
            continue
        text = read_text(os.path.join(root, rel))
        if text is None:
            continue
        regions, errs = parse(rel, text)
        errors += errs
        if regions:
            marked[rel] = regions
    return marked, errors


def check_against_manifest(marked, manifest, root):
    """Errors where the markers and the manifest's labs and "files" disagree."""
    text = read_text(os.path.join(root, "labs", "manifest.json")) or ""
    errors = []
    labs = {n: lab for n, lab in manifest.items() if n is not None}
    for rel, regions in sorted(marked.items()):
        for r in regions:
            if r.lab not in labs:
                errors.append("%s:%d: SOLUTION(%d) but labs/manifest.json has no lab %d"
                              % (rel, r.if_line, r.lab, r.lab))
            elif rel not in labs[r.lab].get("files", []):
                errors.append("%s:%d: SOLUTION(%d) but lab %d's \"files\" in labs/manifest.json "
                              "does not list %s" % (rel, r.if_line, r.lab, r.lab, rel))
    for n, lab in sorted(labs.items()):
        for rel in lab.get("files", []):
            if not os.path.isfile(os.path.join(root, rel)):
                errors.append("labs/manifest.json:%d: lab %d lists %s, which does not exist"
                              % (gradelib.json_line(text, '"%s"' % rel), n, rel))
            elif not any(r.lab == n for r in marked.get(rel, [])):
                errors.append("labs/manifest.json:%d: lab %d lists %s, which has no SOLUTION(%d) "
                              "markers" % (gradelib.json_line(text, '"%s"' % rel), n, rel, n))
    return errors


def missing_handouts(manifest, root):
    """Warnings for handouts the manifest names but the tree lacks."""
    return ["labs/manifest.json:1: warning: lab %d's handout %s does not exist yet" % (n, lab["handout"])
            for n, lab in sorted((k, v) for k, v in manifest.items() if k is not None)
            if not os.path.isfile(os.path.join(root, lab["handout"]))]


def check(root):
    """Every marker and manifest problem of the tree at root: (errors, warnings)."""
    try:
        manifest = gradelib.load_manifest(root)
    except gradelib.ManifestError as e:
        return e.errors, []
    marked, errors = scan_tree(root)
    errors += check_against_manifest(marked, manifest, root)
    return errors, missing_handouts(manifest, root)


def main(argv):
    """Print errors (and warnings) one per line; exit 1 on any error."""
    root = os.path.abspath(argv[0]) if argv else ROOT
    errors, warnings = check(root)
    for line in warnings + errors:
        print(line)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
