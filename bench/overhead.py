"""The worker's own cost per job, beside a minimal script making the same calls.

    .venv/bin/python -m bench.overhead [--jobs 2000] [--concurrency 32]

With the emulator answering at once and unlimited, the API is free and what is left is the
product: one `seedream-batch worker` (Redis broker, PostgreSQL table, moto's S3 server) runs a
batch of 2K images (~110 KB, a few prompts repeated so the emulator draws each once), then
bench/minimal_asyncio.py makes the same calls per job (POST /ai/run, GET the image, PUT to S3,
UPDATE a row) in the same run, on the same services. Prints jobs/s and CPU ms per job for each and
their ratio. The worker's CPU is utime+stime of its process tree from /proc, from idle before the
batch to its end; its time is the table's, from the first claim to the last job recorded.
Needs PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test provides it).
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    distributed_services,
    fleet,
    processing_seconds,
    stored_objects,
    worker_batch_cpu,
    write_repeated_manifest,
)
from tests.support.services import running_emulator

MINIMAL = Path(__file__).with_name("minimal_asyncio.py")


@dataclass
class Run:
    jobs: int
    seconds: float
    cpu_seconds: float

    @property
    def jobs_per_s(self) -> float:
        return self.jobs / self.seconds

    @property
    def cpu_ms_per_job(self) -> float:
        return self.cpu_seconds * 1000 / self.jobs


def worker_run(env: dict[str, str], workdir: Path, manifest: Path, jobs: int) -> Run:
    with fleet(env, workdir, workers=1, settle_s=0) as [worker]:
        cpu = worker_batch_cpu(env, worker.process.pid, manifest, "overhead", "run", jobs)
    return Run(jobs, processing_seconds(env, "overhead"), cpu)


def minimal_run(env: dict[str, str], jobs: int, concurrency: int) -> Run:
    database = env["SEEDREAM_DATABASE_URL"]
    finished = subprocess.run(
        [sys.executable, str(MINIMAL), f"--jobs={jobs}", f"--concurrency={concurrency}",
         f"--database={database}"],
        env=env, check=True, capture_output=True, text=True,
    )  # fmt: skip
    result = json.loads(finished.stdout)
    stored = stored_objects(env["AWS_ENDPOINT_URL"], "minimal/")
    if stored != jobs:
        raise RuntimeError(f"the minimal script stored {stored} of {jobs} images")
    return Run(result["jobs"], result["seconds"], result["cpu_seconds"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32, help="threads / tasks in flight")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        env = stack.enter_context(distributed_services(emulator, workdir, stack))
        env["SEEDREAM_CONCURRENCY"] = str(args.concurrency)
        manifest = write_repeated_manifest(workdir / "overhead.jsonl", args.jobs)
        worker = worker_run(env, workdir, manifest, args.jobs)
        time.sleep(1)  # let the services settle between the two runs
        minimal = minimal_run(env, args.jobs, args.concurrency)

    print(
        f"\n{args.jobs} jobs, 2K images (~110 KB), zero API latency, no rate limit, "
        f"{args.concurrency} in flight, Redis, PostgreSQL, S3 (moto), all on this machine\n"
    )
    print("| measure | seedream-batch worker | minimal asyncio script | worker / minimal |")
    print("|---|---|---|---|")
    print(
        f"| jobs/s | {worker.jobs_per_s:.1f} | {minimal.jobs_per_s:.1f} "
        f"| {worker.jobs_per_s / minimal.jobs_per_s:.2f} |"
    )
    print(
        f"| worker CPU ms per job | {worker.cpu_ms_per_job:.1f} | {minimal.cpu_ms_per_job:.1f} "
        f"| {worker.cpu_ms_per_job / minimal.cpu_ms_per_job:.2f} |"
    )


if __name__ == "__main__":
    main()
