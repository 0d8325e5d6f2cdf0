"""End-to-end throughput: a manifest to stored images, embedded and distributed, on real parts.

    .venv/bin/python -m bench.end_to_end [--jobs 200] [--latency 3] [--jitter 1]

Starts the emulator (with the given call latency), a private Redis, moto's S3 server and a
throwaway PostgreSQL database, runs the same manifest through each mode and prints a table:
wall time, images/s, the ideal rate for that many threads at that latency, and the calls the
emulator billed. Needs PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test provides it).
"""

import argparse
import math
import subprocess
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
)
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, clean_env
from tests.support.services import Emulator, running_emulator


@dataclass
class Result:
    mode: str
    threads: int
    images: int
    seconds: float
    billed: int
    max_in_flight: int

    def row(self, jobs: int, latency: float) -> str:
        """The ideal is every thread busy from the first second: whole rounds of calls."""
        ideal_seconds = math.ceil(jobs / self.threads) * latency
        return (
            f"| {self.mode:<44} | {self.threads:>7} | {self.images:>6} | {self.seconds:>7.1f} "
            f"| {self.images / self.seconds:>8.2f} | {ideal_seconds:>7.1f} "
            f"| {ideal_seconds / self.seconds:>5.0%} | {self.billed:>6} | {self.max_in_flight:>9} |"
        )


HEADER = (
    "| mode                                         | threads | images |  wall s "
    "| images/s | ideal s | ratio | billed | in flight |\n"
    "|----------------------------------------------|---------|--------|---------"
    "|----------|---------|-------|--------|-----------|"
)


def embedded(emulator: Emulator, workdir: Path, manifest: Path, threads: int) -> Result:
    emulator.reset()
    env = clean_env(**emulator.env(), SEEDREAM_CONCURRENCY=str(threads))
    started = time.monotonic()
    subprocess.run(
        # --fresh: each mode pays for its images, not copies the earlier mode's (worker.reuse)
        [CLI, "run", str(manifest), "--out", str(workdir / f"out-{threads}"), "--fresh"],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
    )
    seconds = time.monotonic() - started
    stats = emulator.stats()
    images = len(list((workdir / f"out-{threads}").rglob("*.jpg")))
    return Result(
        f"embedded, SQLite, folder ({threads} threads)",
        threads,
        images,
        seconds,
        stats["billed"],
        stats["max_in_flight"],
    )


def distributed(
    emulator: Emulator, workdir: Path, manifest: Path, stack: ExitStack, workers: int, threads: int
) -> Result:
    env = stack.enter_context(distributed_services(emulator, workdir, stack))
    env["SEEDREAM_CONCURRENCY"] = str(threads)
    emulator.reset()
    with fleet(env, workdir, workers):
        started = time.monotonic()
        submit(env, manifest, "bench", "s3://bench/run")
        wait_final(env, "bench")
        seconds = time.monotonic() - started
    stats = emulator.stats()
    return Result(
        f"Redis, {workers} workers, PostgreSQL, S3",
        workers * threads,
        stored_objects(env["AWS_ENDPOINT_URL"], "run/bench/"),
        seconds,
        stats["billed"],
        stats["max_in_flight"],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--latency", type=float, default=3.0, help="mean seconds per API call")
    parser.add_argument("--jitter", type=float, default=1.0, help="uniform extra 0..jitter s")
    args = parser.parse_args()
    mean_latency = args.latency + args.jitter / 2

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        emulator.configure(latency_s=args.latency, jitter_s=args.jitter)
        manifest = write_manifest(workdir / "bench.jsonl", good=args.jobs).path
        results = [
            embedded(emulator, workdir, manifest, threads=16),
            embedded(emulator, workdir, manifest, threads=64),
            distributed(emulator, workdir, manifest, stack, workers=2, threads=32),
        ]
    print(f"\n{args.jobs} jobs, 1K images, API latency {args.latency}+0..{args.jitter} s\n")
    print(HEADER)
    for result in results:
        print(result.row(args.jobs, mean_latency))


if __name__ == "__main__":
    main()
