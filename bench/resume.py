"""Resume speed: `seedream-batch resume` of a paused batch of 10k, 100k and 1M jobs.

    .venv/bin/python -m bench.resume [--sizes 10000 100000 1000000] [--runs 3]

For each size: a throwaway PostgreSQL database holding one paused batch of that many queued jobs
(bench/paused_batch.py) and a private Redis as the broker, with no worker. Each run empties the
queue, pauses the batch again, vacuums, then runs `seedream-batch resume <batch>` as a user would,
and checks the queue then holds exactly one message per job. Prints, per size: wall seconds
(median, min–max over the runs), seconds per 100k jobs, the resume process's CPU seconds, and
the queue length after. Needs PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test).
"""

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.paused_batch import make_paused_batch, pause, settle
from bench.process_stats import ProcessCost, run_measured
from jobs.database import open_engine
from jobs.redis_keys import JOB_QUEUE
from jobs.results import ResultsTable
from tests.support.processes import CLI, clean_env
from tests.support.services import POSTGRES_ADMIN_URL, running_redis, temporary_postgres_database

TARGET_1M_S = 15.0
BATCH = "bench-resume"


@dataclass
class Measured:
    size: int
    runs: list[ProcessCost]
    queued: list[int]

    def wall(self) -> list[float]:
        return [run.seconds for run in self.runs]

    def row(self) -> str:
        wall = self.wall()
        median = statistics.median(wall)
        cpu = statistics.median(run.cpu_seconds for run in self.runs)
        queued = "/".join(f"{n:,}" for n in sorted(set(self.queued)))
        return (
            f"| {self.size:,} | {len(wall)} | {median:.2f} | {min(wall):.2f}–{max(wall):.2f} "
            f"| {median / self.size * 100_000:.2f} | {cpu:.2f} | {queued} |"
        )


def resume_runs(size: int, runs: int, workdir: Path) -> Measured:
    """Make a paused batch of `size` jobs, then resume it `runs` times."""
    measured = Measured(size, [], [])
    with (
        running_redis(workdir) as redis_url,
        temporary_postgres_database(POSTGRES_ADMIN_URL) as url,
    ):
        engine = open_engine(url)
        broker = redis.Redis.from_url(redis_url)
        env = clean_env(SEEDREAM_BROKER_URL=redis_url, SEEDREAM_DATABASE_URL=url)
        try:
            make_paused_batch(ResultsTable(engine), BATCH, size)
            for run in range(runs):
                broker.flushall()
                pause(engine, BATCH)
                settle(engine)
                log = workdir / f"resume-{size}-{run}.log"
                with log.open("wb") as out:
                    cost = run_measured([CLI, "resume", BATCH], env, workdir, out)
                if cost.exit_code != 0:
                    raise SystemExit(
                        f"resume failed ({cost.exit_code}):\n{log.read_text()[-3000:]}"
                    )
                measured.runs.append(cost)
                measured.queued.append(int(broker.llen(JOB_QUEUE)))
                print(f"{size:,} jobs, run {run + 1}: {cost.seconds:.2f} s", file=sys.stderr)
        finally:
            engine.dispose()
    return measured


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = [resume_runs(size, args.runs, Path(tmp)) for size in args.sizes]
    print("\n`seedream-batch resume` of a paused batch, PostgreSQL, Redis broker, no worker\n")
    print(
        "| jobs | runs | wall s (median) | wall s (min–max) | s per 100k | CPU s | queued after |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
    print(f"\ntarget: 1,000,000 jobs in ≤ {TARGET_1M_S:g} s; queued after = jobs")


if __name__ == "__main__":
    main()
