"""Where a worker's CPU goes, stage by stage: CPU ms per job for each step of the job path.

    .venv/bin/python -m bench.pipeline_stages [--jobs 2000] [--concurrency 32]

The same run as bench/overhead.py (one `seedream-batch worker`, Redis broker, PostgreSQL table,
moto's S3 server, the emulator answering at once and unlimited, 2K images), with the worker
started by this script in its `--worker` role: it wraps each stage's function in a timer of the
calling thread's CPU time (`time.thread_time`, about a microsecond a call, so the worker runs at
its own speed, unlike under a profiler) and then starts the worker exactly as the CLI does. When
the batch is final the worker is stopped and writes its totals; the process's whole CPU is read
from /proc as bench/overhead.py reads it, and what no stage accounts for is shown as what it is:
Celery's work around the task in the worker thread (the task trace, its events), and the rest of
the process (Celery's consumer: fetching each message, acknowledging it, publishing the events,
heartbeats; the lease renewer and the reaper). Needs PostgreSQL on 127.0.0.1:5432.
"""

import argparse
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

from bench.harness import (
    distributed_services,
    worker_batch_cpu,
    write_repeated_manifest,
)
from tests.support.processes import VENV_BIN, Service
from tests.support.services import running_emulator

#: where the worker role writes its totals; the parent names the file
STATS_FILE_ENV = "SEEDREAM_BENCH_STAGES_FILE"


@dataclass(frozen=True)
class Stage:
    """A function on the job path whose calls are timed: `owner.attribute`, named `name`."""

    name: str
    module: str
    owner: str | None
    attribute: str


#: every timed function; a stage's time includes the stages it calls (see `report`)
STAGES = (
    Stage("celery task in thread", "celery.concurrency.thread", None, "apply_target"),
    Stage("pipeline run", "worker.pipeline", "JobPipeline", "run"),
    Stage("claim + attempt row", "jobs.claims", "JobClaims", "claim"),
    Stage("limiter + API call", "worker.limited_client", "LimitedClient", "generate"),
    Stage("API call", "worker.cloudflare", "CloudflareClient", "generate"),
    Stage("record generated", "jobs.claims", "JobClaims", "record_generated"),
    Stage("fetch", "worker.pipeline", None, "fetch_image"),
    Stage("verify", "worker.pipeline", None, "inspect_image"),
    # named where the worker builds its pipeline, wherever the class is defined
    Stage("storage lookup", "worker.tasks", "StorageLookup", "__call__"),
    Stage("store (S3 PUT)", "worker.storage.s3", "S3Storage", "put"),
    Stage("record succeeded", "jobs.claims", "JobClaims", "record_succeeded"),
)


class StageClock:
    """Thread CPU seconds and calls per stage, summed over every thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._lock = threading.Lock()

    def timed(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(function)
        def timed_call(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent = time.thread_time() - started
                with self._lock:
                    self.seconds[name] = self.seconds.get(name, 0.0) + spent
                    self.calls[name] = self.calls.get(name, 0) + 1

        return timed_call

    def install(self) -> None:
        """Replace each stage's function by its timed self, where the worker looks it up."""
        import importlib

        for stage in STAGES:
            module = importlib.import_module(stage.module)
            holder = module if stage.owner is None else getattr(module, stage.owner)
            timed = self.timed(stage.name, getattr(holder, stage.attribute))
            setattr(holder, stage.attribute, timed)


def run_worker() -> None:
    """The `--worker` role: `seedream-batch worker` with every stage timed; the totals are
    written to STATS_FILE_ENV's file when it shuts down."""
    from celery.signals import worker_shutdown

    from producer.cli import app

    clock = StageClock()
    clock.install()

    @worker_shutdown.connect(weak=False)
    def write_totals(**_: Any) -> None:
        totals = {"seconds": clock.seconds, "calls": clock.calls}
        Path(os.environ[STATS_FILE_ENV]).write_text(json.dumps(totals))

    app(["worker", "--loglevel", "WARNING"])


@contextmanager
def timed_worker(env: dict[str, str], workdir: Path) -> Iterator[Service]:
    # this module again, from the same folder (the repository's root) this run started in
    worker = Service(
        [str(VENV_BIN / "python"), "-m", "bench.pipeline_stages", "--worker"],
        workdir / "worker.log",
        env=env,
    )
    try:
        yield worker
    finally:
        worker.stop()


def report(totals: dict[str, Any], process_cpu_s: float, jobs: int) -> list[tuple[str, float]]:
    """(stage, CPU ms per job) rows, each stage without the stages inside it, summing to the
    process's CPU per job."""
    seconds: dict[str, float] = totals["seconds"]

    def ms(name: str) -> float:
        return seconds.get(name, 0.0) * 1000 / jobs

    steps = [
        "claim + attempt row", "record generated", "fetch", "verify", "storage lookup",
        "store (S3 PUT)", "record succeeded",
    ]  # fmt: skip
    rows = [
        ("claim + attempt row", ms("claim + attempt row")),
        ("limiter (fleet rate, in-flight slot), API metrics",
         ms("limiter + API call") - ms("API call")),
        ("API call (POST, read and parse the answer)", ms("API call")),
        ("record `generated`", ms("record generated")),
        ("fetch the image", ms("fetch")),
        ("verify it (magic number, end marker, Pillow, SHA-256)", ms("verify")),
        ("storage lookup (the S3 client, made on first use)", ms("storage lookup")),
        ("store (S3 PUT)", ms("store (S3 PUT)")),
        ("record `succeeded` + close the attempt", ms("record succeeded")),
    ]  # fmt: skip
    inside_run = ms("limiter + API call") + sum(ms(name) for name in steps)
    rows.append(("the rest of the job (lease keeper, spool, metrics, object metadata)",
                 ms("pipeline run") - inside_run))  # fmt: skip
    rows.append(("Celery in the worker thread (task trace, events)",
                 ms("celery task in thread") - ms("pipeline run")))  # fmt: skip
    rows.append(("the rest of the process (Celery's consumer: fetch, ack, events; renewers, "
                 "reaper)", process_cpu_s * 1000 / jobs - ms("celery task in thread")))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32, help="worker threads")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        run_worker()
        return

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        env = stack.enter_context(distributed_services(emulator, workdir, stack))
        env["SEEDREAM_CONCURRENCY"] = str(args.concurrency)
        stats_file = workdir / "stages.json"
        env[STATS_FILE_ENV] = str(stats_file)
        manifest = write_repeated_manifest(workdir / "stages.jsonl", args.jobs)
        with timed_worker(env, workdir) as worker:
            pid = worker.process.pid
            process_cpu = worker_batch_cpu(env, pid, manifest, "stages", "stages", args.jobs)
        totals = json.loads(stats_file.read_text())

    rows = report(totals, process_cpu, args.jobs)
    print(f"\n{args.jobs} jobs, {args.concurrency} threads, zero API latency, Redis, PostgreSQL, "
          "S3 (moto): worker CPU ms per job, by stage\n")  # fmt: skip
    print("| stage | CPU ms per job |")
    print("|---|---:|")
    for name, value in rows:
        print(f"| {name} | {value:.2f} |")
    print(f"| **total, the worker process** | **{sum(value for _, value in rows):.2f}** |")


if __name__ == "__main__":
    main()
