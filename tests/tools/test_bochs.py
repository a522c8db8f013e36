#!/usr/bin/env python3
"""Tests of tools/bochs's verdict, with a fake Bochs: the exit status comes from the
hypervisor's exit code on Bochs' stdout (port 0xE9), never from the serial text a guest
shares.  Run: python3 tests/tools/test_bochs.py (make test: the 'launchers' suite)."""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Named bochs-bin and marked as a Bochs with VMX; writes FAKE_SERIAL to the serial file and
# FAKE_STDOUT to its stdout (where port_e9_hack would put port 0xE9), like a finished run.
FAKE_BOCHS = r'''#!/usr/bin/env python3
# VMXON is not allowed (the mark tools/bochs looks for)
import os, re, sys
rc = open(sys.argv[sys.argv.index("-f") + 1]).read()
serial = re.search(r'com1: .*dev="([^"]*)"', rc).group(1)
with open(serial, "w") as f:
    f.write(os.environ["FAKE_SERIAL"].replace("|", "\n"))
sys.stdout.write(os.environ["FAKE_STDOUT"].replace("|", "\n"))
sys.exit(1)     # as Bochs does after the shutdown port
'''
FAKE_GRUB = '''#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -o ] && { : > "$2"; exit 0; }; shift; done; exit 1
'''


def executable(path, text):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)


class Verdict(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pvlab-test-bochs.")
        executable(os.path.join(cls.dir, "bochs-bin"), FAKE_BOCHS)
        executable(os.path.join(cls.dir, "grub-mkrescue"), FAKE_GRUB)
        open(os.path.join(cls.dir, "BIOS-bochs-latest"), "w").close()
        cls.kernel = os.path.join(cls.dir, "hv.elf")
        open(cls.kernel, "w").close()

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def launch(self, serial, stdout, **extra):
        env = {k: v for k, v in os.environ.items() if not k.startswith("BOCHS")}
        env.update(BOCHS=os.path.join(self.dir, "bochs-bin"), BXSHARE=self.dir,
                   GRUB_MKRESCUE=os.path.join(self.dir, "grub-mkrescue"), BOCHS_DISPLAY="nogui",
                   FAKE_SERIAL=serial, FAKE_STDOUT=stdout, BOCHS_TIMEOUT="20", **extra)
        env["PATH"] = self.dir + os.pathsep + env["PATH"]	# xorriso is only looked for
        if not shutil.which("xorriso", path=env["PATH"]):
            executable(os.path.join(self.dir, "xorriso"), "#!/bin/sh\nexit 0\n")
        p = subprocess.run([sys.executable, os.path.join(ROOT, "tools", "bochs"), self.kernel, ""],
                           env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, timeout=60)
        return p.returncode, p.stdout

    def test_code_gives_status(self):
        status, out = self.launch("pvlab: exit success|", "\npvlab-exit-code 1\n")
        self.assertEqual(status, 3, out)
        self.assertIn("pvlab: exit success", out)

    def test_each_code(self):
        for code, word, status in ((2, "failure", 5), (3, "panic", 7), (4, "config", 9)):
            got, out = self.launch("pvlab: exit %s|" % word, "<bochs:1> continue\npvlab-exit-code %d\n" % code)
            self.assertEqual(got, status, out)

    def test_serial_line_alone_not_believed(self):
        # a forged (or orphaned) serial exit line without the hypervisor's code decides nothing
        status, out = self.launch("(d1) hello|pvlab: exit success|", "")
        self.assertEqual(status, 1, out)
        self.assertIn("not believed", out)

    def test_code_wins_over_serial(self):
        status, out = self.launch("pvlab: exit success|", "\npvlab-exit-code 2\n")
        self.assertEqual(status, 5, out)
        self.assertIn("says status 5", out)

    def test_code_must_be_a_line_of_its_own(self):
        status, out = self.launch("pvlab: exit success|", "xpvlab-exit-code 1\n")
        self.assertEqual(status, 1, out)

    def test_cpu_model_without_vmx_named(self):
        serial = "pvlab: this CPU cannot run guests (no AMD SVM (x); no Intel VMX (y)): ...|pvlab: exit config|"
        status, out = self.launch(serial, "\npvlab-exit-code 4\n", BOCHS_CPU="p4_willamette")
        self.assertEqual(status, 9, out)
        self.assertIn("BOCHS_CPU=p4_willamette has no VMX", out)
        self.assertIn("corei7_skylake_x", out)
        status, out = self.launch(serial, "\npvlab-exit-code 4\n")
        self.assertNotIn("BOCHS_CPU", out)    # the default model: nothing to blame on it


if __name__ == "__main__":
    unittest.main()
