"""Hundreds in flight in one worker process: every job's call open at once, in bounded memory.

    .venv/bin/python bench/in_flight.py [--jobs 500] [--concurrency 500] [--latency 30]

Starts the emulator with a fixed call latency, a private Redis, moto's S3 server and a throwaway
PostgreSQL database, then one `seedream-batch worker` with SEEDREAM_CONCURRENCY threads, and
submits a batch of 2K images (a few prompts repeated, so the emulator draws each picture once).
Prints each figure beside its target: the calls the emulator saw in flight at once, the worker's
peak resident memory (VmHWM), and the batch's wall time from submit to the last job recorded.
Needs PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test provides it).
"""

import argparse
import math
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import (  # noqa: E402
    distributed_services,
    fleet,
    stored_objects,
    submit,
    wait_final,
    write_repeated_manifest,
)
from bench.process_stats import open_files, peak_rss_bytes, threads, wait_idle  # noqa: E402
from jobs.states import JobState  # noqa: E402
from tests.support.services import running_emulator  # noqa: E402

#: the most memory a worker with hundreds in flight may hold
RSS_TARGET_BYTES = 1024**3
#: the batch's time allowed beyond one call's latency (start-up, fetch, store, record)
SLACK_S = 10.0


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
    args = parser.parse_args()

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
        in_flight = emulator.stats()["max_in_flight"]

    rounds = math.ceil(args.jobs / args.concurrency)
    wall_target = rounds * args.latency + SLACK_S
    expected_in_flight = min(args.jobs, args.concurrency)
    print(
        f"\n{args.jobs} jobs, 2K images, API latency {args.latency:g} s, one worker process with "
        f"SEEDREAM_CONCURRENCY={args.concurrency}, Redis, PostgreSQL, "
        f"{'S3 (moto)' if args.storage == 's3' else 'a local folder'}\n"
    )
    print("| measure | figure | target | met |")
    print("|---|---|---|---|")
    rows = [
        ("calls in flight at once", f"{in_flight}", f"{expected_in_flight}",
         in_flight >= expected_in_flight),
        ("worker peak RSS (VmHWM)", f"{peak_rss / 1024**2:.0f} MB",
         f"≤ {RSS_TARGET_BYTES / 1024**2:.0f} MB", peak_rss <= RSS_TARGET_BYTES),
        ("batch wall time", f"{seconds:.1f} s", f"< {wall_target:g} s", seconds < wall_target),
        ("jobs succeeded / images stored", f"{counts[JobState.succeeded]} / {stored}",
         f"{args.jobs}", counts[JobState.succeeded] == stored == args.jobs),
    ]  # fmt: skip
    for measure, figure, target, met in rows:
        print(f"| {measure} | {figure} | {target} | {'yes' if met else 'NO'} |")
    print(f"\nworker at the end: {worker_threads} threads, {files} open files")


if __name__ == "__main__":
    main()
