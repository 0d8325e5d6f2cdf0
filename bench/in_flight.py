"""Hundreds in flight in one worker process: every job's call open at once, in bounded memory.

    .venv/bin/python -m bench.in_flight [--jobs 500] [--concurrency 500] [--latency 30] [--runs 5]

Starts the emulator with a fixed call latency, a private Redis, moto's S3 server and a throwaway
PostgreSQL database, then one `seedream-batch worker` with SEEDREAM_CONCURRENCY threads, and
submits a batch of 2K images (a few prompts repeated, so the emulator draws each picture once).
Runs the batch `--runs` times (each on fresh services: one good run hides a race) and prints
each run's figures beside the targets: the calls the emulator saw in flight at once, the worker's
peak resident memory (VmHWM), and the batch's wall time from submit to the last job recorded.
Needs PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test provides it).
"""

import argparse
import math
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.harness import (
    distributed_services,
    fleet,
    stored_objects,
    submit,
    wait_final,
    write_repeated_manifest,
)
from bench.process_stats import open_files, peak_rss_bytes, threads, wait_idle
from jobs.states import JobState
from tests.support.services import running_emulator

#: the most memory a worker with hundreds in flight may hold
RSS_TARGET_BYTES = 400 * 1024**2
#: the batch's time allowed beyond one call's latency (start-up, fetch, store, record)
SLACK_S = 11.0


@dataclass(frozen=True)
class Run:
    """What one run of the batch measured."""

    in_flight: int
    peak_rss: int
    seconds: float
    succeeded: int
    stored: int
    threads: int
    open_files: int


def run_once(args: argparse.Namespace) -> Run:
    """One batch on fresh services: emulator, Redis, PostgreSQL, S3 or a folder, one worker."""
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        emulator.configure(latency_s=args.latency)
        env = stack.enter_context(distributed_services(emulator, workdir, stack))
        env["SEEDREAM_CONCURRENCY"] = str(args.concurrency)
        manifest = write_repeated_manifest(workdir / "in_flight.jsonl", args.jobs)
        output = "s3://bench/run" if args.storage == "s3" else str(workdir / "run")
        with fleet(env, workdir, workers=1, settle_s=0) as [worker]:
            pid = worker.process.pid
            wait_idle(pid)
            started = time.monotonic()
            submit(env, manifest, "in-flight", output)
            counts = wait_final(env, "in-flight")
            seconds = time.monotonic() - started
            peak_rss = peak_rss_bytes(pid)
            worker_threads, files = threads(pid), open_files(pid)
        stored = (
            stored_objects(env["AWS_ENDPOINT_URL"], "run/in-flight/")
            if args.storage == "s3"
            else len(list((workdir / "run" / "in-flight").iterdir()))
        )
        return Run(
            in_flight=emulator.stats()["max_in_flight"],
            peak_rss=peak_rss,
            seconds=seconds,
            succeeded=counts[JobState.succeeded],
            stored=stored,
            threads=worker_threads,
            open_files=files,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=500, help="SEEDREAM_CONCURRENCY")
    parser.add_argument("--latency", type=float, default=30.0, help="seconds per API call")
    parser.add_argument(
        "--storage",
        choices=["s3", "folder"],
        default="s3",
        help="moto's S3 server (its CPU shares this machine with the worker) or a local folder",
    )
    parser.add_argument("--runs", type=int, default=5, help="batches, each on fresh services")
    args = parser.parse_args()

    rounds = math.ceil(args.jobs / args.concurrency)
    wall_target = rounds * args.latency + SLACK_S
    expected_in_flight = min(args.jobs, args.concurrency)
    print(
        f"{args.jobs} jobs, 2K images, API latency {args.latency:g} s, one worker process with "
        f"SEEDREAM_CONCURRENCY={args.concurrency}, Redis, PostgreSQL, "
        f"{'S3 (moto)' if args.storage == 's3' else 'a local folder'}; targets: "
        f"{expected_in_flight} in flight, RSS ≤ {RSS_TARGET_BYTES / 1024**2:.0f} MB, "
        f"wall ≤ {wall_target:g} s, every job stored\n"
    )
    print("| run | in flight | peak RSS MB | wall s | succeeded / stored | threads, files | met |")
    print("|---|---|---|---|---|---|---|")
    runs = []
    for number in range(1, args.runs + 1):
        run = run_once(args)
        runs.append(run)
        met = (
            run.in_flight >= expected_in_flight
            and run.peak_rss <= RSS_TARGET_BYTES
            and run.seconds <= wall_target
            and run.succeeded == run.stored == args.jobs
        )
        print(
            f"| {number} | {run.in_flight} | {run.peak_rss / 1024**2:.0f} | {run.seconds:.1f} | "
            f"{run.succeeded} / {run.stored} | {run.threads}, {run.open_files} | "
            f"{'yes' if met else 'NO'} |",
            flush=True,
        )
    rss = [run.peak_rss / 1024**2 for run in runs]
    walls = [run.seconds for run in runs]
    print(
        f"\n{len(runs)} runs: peak RSS {min(rss):.0f}–{max(rss):.0f} MB, "
        f"wall {min(walls):.1f}–{max(walls):.1f} s"
    )


if __name__ == "__main__":
    main()
