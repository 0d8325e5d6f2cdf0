"""Starting and stopping the real processes the integration tests talk to."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

VENV_BIN = Path(sys.executable).parent
CLI = str(VENV_BIN / "seedream-batch")
#: the variables the product reads; a child process gets only those its test or benchmark sets
PRODUCT_VARIABLE_PREFIXES = ("SEEDREAM_", "CLOUDFLARE_")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any seedream or Cloudflare setting, plus `extra`.

    What a child process of a test or a benchmark starts from: settings in the developer's
    shell (or a CI job's) never reach it, so it sees exactly what its caller sets.
    """
    kept = {k: v for k, v in os.environ.items() if not k.startswith(PRODUCT_VARIABLE_PREFIXES)}
    return {**kept, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not happen within {timeout} s")


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1).status_code < 500
        except httpx.HTTPError:
            return False

    return check


def port_open(port: int) -> Callable[[], bool]:
    def check() -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    return check


class Service:
    """A child process in its own process group, stopped (and reaped) on `stop`."""

    def __init__(
        self,
        argv: Sequence[str],
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log_file.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed: run scripts/test.sh, which installs it")
    return path
