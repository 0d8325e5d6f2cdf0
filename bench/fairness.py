"""Fairness: a small batch behind a 1,000,000-job one, and the share a heavier batch gets.

    .venv/bin/python -m bench.fairness [--big 1000000] [--small 20] [--limit 600/60s]
        [--latency 1] [--weight 2] [--settle 10] [--window 60]

The issue's bar: with a 1,000,000-job batch recorded and workers running against a provider
limit, a 20-job batch at the same weight completes within its own run time plus 10 s; at twice
the weight, a batch gets twice the share (±10 %).

Starts the emulator enforcing `--limit` with `--latency` seconds per call, a private Redis, a
throwaway PostgreSQL database and one `seedream-batch worker` process with threads for the calls
the limit keeps in flight (rate x latency, a third more, plus 4), configured with the emulator's
limit. Every batch goes in through `seedream-batch submit` (the big one's time is reported).

* Case A, same weight: the small batch alone on the empty table first (its own run time, from
  `submit` starting to its last job final), then the big batch, then, `--settle` s after the big
  batch's first image, the same small batch again: PASS when it takes at most its own time + 10 s.
* Case B, `--weight`: a second batch at that weight, big enough to stay backlogged, beside the
  big one (weight 1); after `--settle` s, the jobs each finishes in the next `--window` s: PASS
  when their ratio is the weight ± 10 %.

The machine may be shared with other work, so the times are noisy; the ratio much less so.
"""

import argparse
import math
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, select

from bench.backlog import backlog_env, timed_submit
from bench.harness import fleet, wait_final, write_repeated_manifest
from jobs.database import open_engine, utcnow
from jobs.rates import RateLimit
from jobs.results import ResultsTable
from jobs.schema import jobs_table
from jobs.states import JobState
from tests.support.services import running_emulator

BIG, DOUBLE = "big", "heavier"
#: how much later than alone the small batch may finish behind the big one
SLACK_S = 10.0
#: how far the measured ratio may be from the weight, as a share of the weight
RATIO_TOLERANCE = 0.10


@dataclass(frozen=True)
class Figures:
    big_jobs: int
    big_submit_s: float
    small_jobs: int
    alone_s: float
    behind_big_s: float
    weight: float
    finished: dict[str, int]

    @property
    def ratio(self) -> float:
        return self.finished[DOUBLE] / max(self.finished[BIG], 1)

    def case_a_passes(self) -> bool:
        return self.behind_big_s <= self.alone_s + SLACK_S

    def case_b_passes(self) -> bool:
        return abs(self.ratio - self.weight) <= RATIO_TOLERANCE * self.weight


def verdict(passed: bool) -> str:
    return "PASS" if passed else "FAIL"


def report(figures: Figures, window_s: float) -> str:
    f = figures
    low, high = f.weight * (1 - RATIO_TOLERANCE), f.weight * (1 + RATIO_TOLERANCE)
    rows = [
        "| case | measure | value | bar | result |",
        "|---|---|---:|---|---|",
        f"| setup | `submit` of the {f.big_jobs:,}-job batch, s | {f.big_submit_s:.1f} "
        f"| ({f.big_jobs / f.big_submit_s:,.0f} rows/s) | |",
        f"| A | {f.small_jobs}-job batch alone, s | {f.alone_s:.1f} | | |",
        f"| A | same batch behind the {f.big_jobs:,}-job one, s | {f.behind_big_s:.1f} "
        f"| ≤ {f.alone_s + SLACK_S:.1f} (alone + {SLACK_S:g}) "
        f"| {verdict(f.case_a_passes())} |",
        f"| B | jobs finished in {window_s:g} s, weight 1 | {f.finished[BIG]} | | |",
        f"| B | jobs finished in {window_s:g} s, weight {f.weight:g} | {f.finished[DOUBLE]} | | |",
        f"| B | ratio | {f.ratio:.2f} | {low:.2f} – {high:.2f} | {verdict(f.case_b_passes())} |",
    ]
    return "\n".join(rows)


def timed_batch(env: dict[str, str], manifest: Path, batch: str, jobs: int) -> float:
    """Submit `manifest` as `batch` and wait until every job is final; the seconds from the
    submit starting to the last job, or an error if any job did not succeed."""
    started = time.monotonic()
    timed_submit(env, manifest, batch)
    counts = wait_final(env, batch)
    elapsed = time.monotonic() - started
    if counts[JobState.succeeded] != jobs:
        raise RuntimeError(f"batch {batch}: {counts}")
    return elapsed


def wait_first_image(table: ResultsTable, batch: str, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while table.counts(batch)[JobState.succeeded] == 0:
        if time.monotonic() > deadline:
            raise TimeoutError(f"batch {batch} stored no image within {timeout_s:g} s")
        time.sleep(0.5)


def finished_between(table: ResultsTable, start: datetime, end: datetime) -> dict[str, int]:
    """Jobs of each batch that succeeded in [start, end), by the table's own timestamps."""
    query = (
        select(jobs_table.c.batch_id, func.count())
        .where(jobs_table.c.state == JobState.succeeded.value)
        .where(jobs_table.c.finished_at >= start, jobs_table.c.finished_at < end)
        .group_by(jobs_table.c.batch_id)
    )
    with table.engine.connect() as conn:
        return {batch: count for batch, count in conn.execute(query)}


def shares(
    env: dict[str, str], manifest: Path, weight: float, settle_s: float, window_s: float
) -> dict[str, int]:
    """Case B: the heavier batch beside the big one; jobs each finished in the steady window."""
    engine = open_engine(env["SEEDREAM_DATABASE_URL"])
    table = ResultsTable(engine)
    try:
        timed_submit(env, manifest, DOUBLE, weight)
        wait_first_image(table, DOUBLE)
        time.sleep(settle_s)
        start = utcnow()
        time.sleep(window_s)
        finished = finished_between(table, start, utcnow())
        if table.counts(DOUBLE)[JobState.queued] == 0:
            raise RuntimeError(f"batch {DOUBLE} ran out of jobs in the window: make it bigger")
    finally:
        engine.dispose()
    return {batch: finished.get(batch, 0) for batch in (BIG, DOUBLE)}


def settle_behind_big(env: dict[str, str], settle_s: float) -> None:
    engine = open_engine(env["SEEDREAM_DATABASE_URL"])
    try:
        wait_first_image(ResultsTable(engine), BIG)
    finally:
        engine.dispose()
    time.sleep(settle_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big", type=int, default=1_000_000, help="jobs of the big batch")
    parser.add_argument("--small", type=int, default=20, help="jobs of the small batch")
    parser.add_argument("--limit", default="600/60s", help="the provider's (emulator's) limit")
    parser.add_argument("--latency", type=float, default=1.0, help="seconds per API call")
    parser.add_argument("--weight", type=float, default=2.0, help="case B's heavier weight")
    parser.add_argument("--settle", type=float, default=10.0, help="seconds before measuring")
    parser.add_argument("--window", type=float, default=60.0, help="case B's counting window, s")
    args = parser.parse_args()
    limit = RateLimit.parse(args.limit)
    if limit is None:
        raise SystemExit("--limit: the benchmark needs a limit (like 600/60s), not 'none'")
    per_s = limit.count / limit.window_s
    threads = math.ceil(per_s * args.latency * 4 / 3) + 4
    # at the full rate through the settling and the window, and a fifth more
    heavier_jobs = math.ceil(per_s * (args.settle + args.window) * 1.2) + 100

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        emulator.configure(latency_s=args.latency, rate_limit=str(limit))
        env = backlog_env(emulator, workdir, stack, threads)
        big = write_repeated_manifest(workdir / "big.jsonl", args.big)
        small = write_repeated_manifest(workdir / "small.jsonl", args.small)
        heavier = write_repeated_manifest(workdir / "heavier.jsonl", heavier_jobs)
        with fleet(env, workdir, workers=1):
            alone_s = timed_batch(env, small, "small-alone", args.small)
            print(
                f"small batch alone: {alone_s:.1f} s; submitting {args.big:,} jobs", file=sys.stderr
            )
            big_submit_s = timed_submit(env, big, BIG)
            settle_behind_big(env, args.settle)
            behind_s = timed_batch(env, small, "small-behind", args.small)
            print(f"small batch behind: {behind_s:.1f} s; measuring shares", file=sys.stderr)
            finished = shares(env, heavier, args.weight, args.settle, args.window)
    figures = Figures(args.big, big_submit_s, args.small, alone_s, behind_s, args.weight, finished)
    print(
        f"\nemulator limit {limit}, API latency {args.latency:g} s, one worker process × "
        f"{threads} threads (SEEDREAM_RATE_LIMIT={limit})\n"
    )
    print(report(figures, args.window))


if __name__ == "__main__":
    main()
