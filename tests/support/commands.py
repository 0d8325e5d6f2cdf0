"""Running `seedream-batch` commands as a user would, and reading what they say."""

import json
import secrets
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.processes import CLI


def cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def wait_for_final(
    batch: str, env: dict[str, str], cwd: Path, timeout: float = 180
) -> dict[str, Any]:
    """The batch's `status --json` once every job has finished (JSON: values of any shape)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = cli(["status", batch, "--json"], env, cwd)
        assert status.returncode == 0, status.stderr
        summary: dict[str, Any] = json.loads(status.stdout)
        if summary["total"] and summary["finished"] == summary["total"]:
            return summary
        time.sleep(0.5)
    raise TimeoutError(f"batch {batch} did not finish: {summary}")


def submit(
    manifest: str,
    out: str,
    env: dict[str, str],
    cwd: Path,
    exit_code: int = 0,
    options: Sequence[str] = (),
) -> tuple[str, str]:
    """Submit under a new batch name; returns the name and what submit printed on stderr.
    `exit_code` is the one submit must exit with (1 when some rows are rejected); `options` are
    more of submit's options (`--weight 3`)."""
    batch = f"b-{secrets.token_hex(3)}"
    submitted = cli(["submit", manifest, "--out", out, "--batch", batch, *options], env, cwd)
    assert submitted.returncode == exit_code, submitted.stderr
    return batch, submitted.stderr
