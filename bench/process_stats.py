"""What a process under benchmark cost, read from /proc (Linux): CPU time, peak memory, idleness.

Read from outside, so the worker measured runs exactly as in production, with nothing inside it
counting.
"""

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of `pid` and every live descendant (all their threads)."""
    return sum(_own_cpu_seconds(member) for member in _tree(pid))


def peak_rss_bytes(pid: int) -> int:
    """The most resident memory `pid` has held since it started (VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/{pid}/status has no VmHWM line")


@dataclass(frozen=True)
class ProcessCost:
    exit_code: int
    seconds: float
    #: user + system CPU time (the machine is shared: wall time is noisy)
    cpu_seconds: float
    peak_rss_bytes: int


def run_measured(argv: list[str], env: dict[str, str], cwd: Path, log: IO[bytes]) -> ProcessCost:
    """Run `argv` to its end and say what it cost.

    The peak is the child's own VmHWM, read every 20 ms while it runs, and not `ru_maxrss` from
    `wait4`: Linux carries the parent's high-water mark into a child across fork and exec, so a
    benchmark that had filled a big table itself would report its own peak as the child's.
    """
    started = time.monotonic()
    process = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=log)
    peak = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        try:
            peak = max(peak, peak_rss_bytes(process.pid))
        except (FileNotFoundError, RuntimeError):
            pass  # exiting: its memory is already gone
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)
    return ProcessCost(
        exit_code=process.returncode,
        seconds=time.monotonic() - started,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        peak_rss_bytes=peak,
    )


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def open_files(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def wait_idle(pid: int, timeout: float = 60.0, quiet_s: float = 1.0) -> None:
    """Return once `pid`'s tree has used under 2 % of a core for `quiet_s`: it has started up."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = cpu_seconds(pid)
        if now - before < 0.02 * quiet_s:
            return
        before = now
    raise TimeoutError(f"process {pid} still busy after {timeout:g} s")


def _own_cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return 0.0  # exited between listing and reading
    # fields after the parenthesised command name; utime and stime are fields 14 and 15
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants, from the parent ids in /proc/*/stat."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, []))
    return found
