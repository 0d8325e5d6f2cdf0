"""What the benchmarks share: the real services, a worker fleet, manifests, and waiting for a batch.

The services are the test suite's own (tests/support/services.py); this adds what only a benchmark
needs: one environment for every process of a distributed run, manifests that repeat a few
prompts (so the emulator's render cache, not Pillow, serves the images), and waiting on the
results table itself rather than on a CLI that would compete with the workers for the CPU.
"""

import json
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import boto3
import sqlalchemy

from bench.process_stats import cpu_seconds, wait_idle
from jobs.database import open_engine
from jobs.results import ResultsTable
from jobs.schema import attempts_table, jobs_table
from jobs.states import TERMINAL_STATES, JobState
from tests.support.processes import CLI, Service, clean_env
from tests.support.services import (
    POSTGRES_ADMIN_URL,
    Emulator,
    running_redis,
    running_s3,
    temporary_postgres_database,
)

BUCKET = "bench"
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
}
#: how long the batch may take before the benchmark gives up
WAIT_LIMIT_S = 1800.0


def s3_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=S3_ENV["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=S3_ENV["AWS_SECRET_ACCESS_KEY"],
        region_name=S3_ENV["AWS_DEFAULT_REGION"],
    )


@contextmanager
def distributed_services(
    emulator: Emulator, workdir: Path, stack: ExitStack
) -> Iterator[dict[str, str]]:
    """A private Redis, moto's S3 server with the bucket `bench`, and a throwaway PostgreSQL
    database; yields the environment every producer and worker of the run shares."""
    redis_url = stack.enter_context(running_redis(workdir))
    s3_url = stack.enter_context(running_s3(workdir))
    database = stack.enter_context(temporary_postgres_database(POSTGRES_ADMIN_URL))
    s3_client(s3_url).create_bucket(Bucket=BUCKET)
    yield clean_env(
        **emulator.env(),
        **S3_ENV,
        AWS_ENDPOINT_URL=s3_url,
        SEEDREAM_BROKER_URL=redis_url,
        SEEDREAM_DATABASE_URL=database,
    )


@contextmanager
def fleet(
    env: dict[str, str], workdir: Path, workers: int, settle_s: float = 4.0
) -> Iterator[list[Service]]:
    """`workers` worker processes, given `settle_s` to connect before the clock starts."""
    processes = [
        Service([CLI, "worker", "--loglevel", "WARNING"], workdir / f"worker-{n}.log", env=env)
        for n in range(workers)
    ]
    try:
        time.sleep(settle_s)
        yield processes
    finally:
        for process in processes:
            process.stop()


def write_repeated_manifest(path: Path, jobs: int, prompts: int = 8) -> Path:
    """`jobs` rows with distinct keys cycling through `prompts` prompts, at the default size (2K,
    ~110 KB JPEGs): the emulator draws each picture once and serves the rest from its cache."""
    rows = (
        json.dumps({"id": f"job-{n:06d}", "prompt": f"benchmark picture {n % prompts}"})
        for n in range(jobs)
    )
    path.write_text("\n".join(rows) + "\n")
    return path


def submit(env: dict[str, str], manifest: Path, batch: str, out: str) -> None:
    """Record the manifest as `batch` for the fleet. `--fresh`: the benchmarks measure calls,
    and their manifests repeat prompts, which reuse would otherwise copy (worker.reuse)."""
    subprocess.run(
        [CLI, "submit", str(manifest), "--out", out, "--batch", batch, "--fresh"],
        env=env,
        check=True,
        capture_output=True,
    )


def wait_final(env: dict[str, str], batch: str) -> dict[JobState, int]:
    """Poll the results table until every job of `batch` is final; returns the counts by state."""
    engine = open_engine(env["SEEDREAM_DATABASE_URL"])
    table = ResultsTable(engine)
    deadline = time.monotonic() + WAIT_LIMIT_S
    try:
        while time.monotonic() < deadline:
            counts = table.counts(batch)
            if all_final(counts):
                return counts
            time.sleep(0.2)
    finally:
        engine.dispose()
    raise TimeoutError(f"batch {batch} not finished within {WAIT_LIMIT_S:g} s")


def worker_batch_cpu(
    env: dict[str, str], worker_pid: int, manifest: Path, batch: str, prefix: str, jobs: int
) -> float:
    """Submit `manifest` as `batch` to the worker `worker_pid` once it is idle, wait until every
    job is final and check each image is in the bucket under `prefix`; returns the CPU seconds
    the worker's process tree spent meanwhile."""
    wait_idle(worker_pid)
    cpu_before = cpu_seconds(worker_pid)
    submit(env, manifest, batch, f"s3://{BUCKET}/{prefix}")
    counts = wait_final(env, batch)
    cpu = cpu_seconds(worker_pid) - cpu_before
    stored = stored_objects(env["AWS_ENDPOINT_URL"], f"{prefix}/{batch}/")
    if not counts[JobState.succeeded] == stored == jobs:
        raise RuntimeError(f"the worker stored {stored} of {jobs} images: {counts}")
    return cpu


def all_final(counts: dict[JobState, int]) -> bool:
    """True when a batch has jobs and every one of them is in a final state."""
    return sum(counts.values()) > 0 and all(
        counts[state] == 0 for state in counts if state not in TERMINAL_STATES
    )


def stored_objects(s3_url: str, prefix: str) -> int:
    """How many objects the bucket holds under `prefix` (paged: a batch may exceed 1,000)."""
    pages = (
        s3_client(s3_url).get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    )
    return sum(page.get("KeyCount", 0) for page in pages)


def processing_seconds(env: dict[str, str], batch: str) -> float:
    """From the batch's first claim to its last job recorded final, by the table's own clock:
    the workers' time, without the producer's or the polling's."""
    query = sqlalchemy.select(
        sqlalchemy.func.min(attempts_table.c.started_at),
        sqlalchemy.func.max(jobs_table.c.finished_at),
    ).select_from(jobs_table.join(attempts_table, attempts_table.c.job_id == jobs_table.c.id))
    engine = open_engine(env["SEEDREAM_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            first, last = conn.execute(query.where(jobs_table.c.batch_id == batch)).one()
    finally:
        engine.dispose()
    return float((last - first).total_seconds())
