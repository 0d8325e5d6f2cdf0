"""A big batch recorded behind a running worker: the stage the fairness and Redis benchmarks share.

Both need the same stage: a private Redis, a throwaway PostgreSQL database, the emulator, one
`seedream-batch worker` process, and batches recorded with `seedream-batch submit` as a user
would (timed, so the 1,000,000-row submit is a figure of its own). Images go to a folder in the
benchmark's temporary directory, so no S3 server is needed.
"""

import subprocess
import time
from contextlib import ExitStack
from pathlib import Path

from tests.support.processes import CLI, clean_env
from tests.support.services import (
    POSTGRES_ADMIN_URL,
    Emulator,
    running_redis,
    temporary_postgres_database,
)


def backlog_env(
    emulator: Emulator, workdir: Path, stack: ExitStack, threads: int
) -> dict[str, str]:
    """The environment of every process of the run: the emulator (with the rate limit it
    enforces), a private Redis, a throwaway database, `threads` threads per worker, and images
    written under `workdir/out`."""
    return clean_env(
        **emulator.env(),
        SEEDREAM_BROKER_URL=stack.enter_context(running_redis(workdir)),
        SEEDREAM_DATABASE_URL=stack.enter_context(temporary_postgres_database(POSTGRES_ADMIN_URL)),
        SEEDREAM_CONCURRENCY=str(threads),
        SEEDREAM_OUTPUT=str(workdir / "out"),
    )


def timed_submit(env: dict[str, str], manifest: Path, batch: str, weight: float = 1.0) -> float:
    """Record `manifest` as `batch` at `weight` with `seedream-batch submit`; returns its wall
    seconds (process start-up and preflight included, as a user waits for them). `--fresh`:
    the benchmarks measure calls, and their manifests repeat prompts (worker.reuse)."""
    started = time.monotonic()
    done = subprocess.run(
        [CLI, "submit", str(manifest), "--batch", batch, "--weight", f"{weight:g}", "--fresh"],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"submit of {batch} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return time.monotonic() - started
