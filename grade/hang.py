"""hang.py: tell a hung run from a slow one, and say where a hung CPU was.

A run makes progress when it prints a line or when the hypervisor's heartbeat (hv_heartbeat:
guest-caused VM exits, read through QEMU's monitor) moves.  Time without progress is counted
in CPU seconds that QEMU itself got (from /proc; wall seconds where there is no /proc), so a
QEMU that a loaded machine starves is slow, not hung.  A test may allow more than the
default with "quiet" in the manifest.  Before a hung (or timed-out) QEMU is killed,
where() asks the monitor for the registers and walks the frame-pointer chain, and returns
lines that symbolize.py names:

    grade: hung: rip 104a2f in the hypervisor (QEMU monitor, after 5.0s without progress)
    grade: hung: backtrace: 1049c1 100c55

Standard library only; QEMU's human monitor on a Unix socket (-monitor unix:PATH,...).
"""
import functools
import os
import re
import socket
import subprocess
import time

DEFAULT_QUIET = 3.0         # CPU seconds of QEMU without output or heartbeat (none of the
                            # tests trips at 0.5: measured)
POLL = 0.5                  # seconds of silence between two looks at the heartbeat
PROMPT = b"(qemu) "
HEARTBEAT = "hv_heartbeat"


def elf_symbol(elf, name):
    """The address of symbol name in elf (nm), or None."""
    return _elf_symbol(elf, name, _mtime(elf))


def _mtime(path):
    """path's modification time (None if absent): a cache key, so a rebuilt ELF is reread."""
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


@functools.lru_cache(maxsize=16)
def _elf_symbol(elf, name, mtime):
    """elf_symbol, once per ELF version."""
    try:
        out = subprocess.run(["nm", elf], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r"^([0-9a-f]+) \w %s$" % re.escape(name), out, re.M)
    return int(m.group(1), 16) if m else None


def text_range(elf):
    """(start, end) of elf's executable PT_LOAD segment (readelf), or None."""
    return _text_range(elf, _mtime(elf))


@functools.lru_cache(maxsize=16)
def _text_range(elf, mtime):
    """text_range, once per ELF version."""
    try:
        out = subprocess.run(["readelf", "-lW", elf], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    for line in out.split("\n"):
        f = line.split()
        if f[:1] == ["LOAD"] and "E" in f[6:-1]:
            return int(f[2], 16), int(f[2], 16) + int(f[5], 16)
    return None


def cpu_seconds(pid):
    """User+system CPU seconds of process pid and its threads, or None without /proc."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


class Monitor:
    """QEMU's human monitor on a Unix socket: one command at a time."""

    def __init__(self, path):
        self.path, self.sock = path, None

    def cmd(self, text, timeout=2.0):
        """The monitor's answer to one command ('' if QEMU does not answer)."""
        try:
            if self.sock is None:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.settimeout(timeout)
                self.sock.connect(self.path)
                self._read()                    # the banner and first prompt
            self.sock.sendall(text.encode() + b"\n")
            return self._read().decode(errors="replace").replace("\r", "")
        except OSError:
            self.close()
            return ""

    def _read(self):
        """Bytes up to the next prompt."""
        data = b""
        while not data.endswith(PROMPT):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise OSError("monitor closed")
            data += chunk
        return data[:-len(PROMPT)]

    def close(self):
        """Drop the connection."""
        if self.sock:
            self.sock.close()
        self.sock = None


class Watch:
    """Progress of one QEMU run: fed by the output reader, asked when the run is silent."""

    def __init__(self, monitor_path, pid, hv_elf, guest_elf, quiet=DEFAULT_QUIET):
        self.mon = Monitor(monitor_path)
        self.pid, self.quiet = pid, quiet
        self.hv_elf, self.guest_elf = hv_elf, guest_elf
        self.heartbeat_addr = elf_symbol(hv_elf, HEARTBEAT)
        self.beat = None
        self.output()

    def _clock(self):
        """QEMU's CPU seconds, or wall seconds without /proc."""
        c = cpu_seconds(self.pid)
        return time.monotonic() if c is None else c

    def output(self):
        """The run printed something: progress."""
        self.since = self._clock()

    def _heartbeat(self):
        """hv_heartbeat's value now (None if unreadable)."""
        if self.heartbeat_addr is None:
            return None
        m = re.search(r":\s*0x([0-9a-f]+)", self.mon.cmd("xp /1gx 0x%x" % self.heartbeat_addr))
        return int(m.group(1), 16) if m else None

    def hung(self):
        """Called every POLL seconds while the run is silent: True once it has made no
        progress (output or heartbeat) for quiet seconds of QEMU's CPU time."""
        beat = self._heartbeat()
        if beat is not None and beat != self.beat:
            self.beat = beat
            self.output()
            return False
        return self._clock() - self.since >= self.quiet

    def where(self, why):
        """Lines saying where the CPU is (registers and backtrace), for the log."""
        regs = self.mon.cmd("info registers")
        r = dict(re.findall(r"\b(RIP|RBP|RSP)=([0-9a-f]{16})", regs))
        if "RIP" not in r:
            return ["grade: %s; QEMU's monitor did not answer, so the location is unknown" % why]
        rip, rbp = int(r["RIP"], 16), int(r["RBP"], 16)
        hv, guest = text_range(self.hv_elf), text_range(self.guest_elf)
        side = ("the hypervisor" if hv and hv[0] <= rip < hv[1] else
                "the guest" if guest and guest[0] <= rip < guest[1] else "neither image")
        lines = ["grade: hung: rip %x in %s (QEMU monitor, %s)" % (rip, side, why)]
        trace = []
        for _ in range(16):
            if not rbp or rbp & 7:
                break
            m = re.findall(r"0x([0-9a-f]{16})", self.mon.cmd("x /2gx 0x%x" % rbp).partition(":")[2])
            if len(m) < 2:
                break
            rbp, ret = int(m[0], 16), int(m[1], 16)
            trace.append("%x" % ret)
        if trace:
            lines.append("grade: hung: backtrace: " + " ".join(trace))
        self.mon.close()
        return lines
