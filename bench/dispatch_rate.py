"""Dispatch rate: how fast dispatcher turns move due jobs from a big results table into Redis.

    .venv/bin/python -m bench.dispatch_rate [--sizes 10000 1000000 10000000] [--due 200000]
        [--window 5000] [--turns 40]

For each size, a throwaway PostgreSQL database holds that many jobs (bench/big_table.py): a
batch of `--due` jobs due now, three batches of weights 1, 2 and 4 sharing as many in proportion
to their weights (so they run dry together), and finished batches of succeeded jobs for the rest.
A private Redis is the broker; turns are `jobs.dispatch.dispatch_turn` as the fleet's
dispatcher runs them, sending through the product's own enqueuer (`worker.publish.job_enqueuer`:
one LPUSH per turn). Between turns, outside the timed part, the fleet is simulated: the jobs sent
are marked succeeded and the Redis list is emptied, so every turn finds its window empty. Scenarios,
each run alone (the other batches paused):

* one batch, window `--window`: the rate the table can feed the broker (target ≥ 2,000 jobs/s);
* three batches of weights 1, 2, 4 sharing that window (their shares are printed);
* one batch, the window the dispatcher sizes for 20 gateways x 200 calls/min (67 calls/s) at
  its default interval of 0.25 s: a turn must take well under that interval.

Prints one row per size and scenario: jobs per turn, ms per turn (median, min–max) and jobs/s
(jobs per turn / median turn time). Needs PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test).
"""

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import redis
from celery import Celery
from sqlalchemy import Engine, update

from bench.big_table import Part, SentJobs, fill, finish
from jobs.database import open_engine, utcnow
from jobs.dispatch import Enqueue, dispatch_turn
from jobs.fair_share import FairShare
from jobs.redis_keys import JOB_QUEUE
from jobs.results import ResultsTable
from jobs.schema import batches_table
from jobs.states import BatchState
from tests.support.services import POSTGRES_ADMIN_URL, running_redis, temporary_postgres_database
from worker.publish import job_enqueuer

TARGET_JOBS_PER_S = 2000
#: 20 gateways x 200 calls/min, and the dispatcher's default interval
FLEET_CALLS_PER_S = 20 * 200 / 60
INTERVAL_S = 0.25
#: the window `worker.dispatcher.WindowSize` floors at for that fleet: 2 x calls/s x interval
FLEET_WINDOW = max(8, int(2 * FLEET_CALLS_PER_S * INTERVAL_S))
SINGLE = "due-alone"
WEIGHTED = {"due-w1": 1.0, "due-w2": 2.0, "due-w4": 4.0}


@dataclass
class Scenario:
    name: str
    batches: list[str]
    window: int
    #: seconds of each turn that sent a full window
    turns: list[float] = field(default_factory=list)
    shares: Counter[str] = field(default_factory=Counter)

    def row(self, size: int) -> str:
        if not self.turns:
            return f"| {size:,} | {self.name} | {self.window:,} | 0 | – | – | – | – | FAIL |"
        ms = [s * 1000 for s in self.turns]
        median = statistics.median(ms)
        rate = self.window / (median / 1000)
        total = sum(self.shares.values())
        shares = ", ".join(f"{b} {n / total:.0%}" for b, n in sorted(self.shares.items()))
        return (
            f"| {size:,} | {self.name} | {self.window:,} | {len(ms)} | {median:.1f} "
            f"| {min(ms):.1f}–{max(ms):.1f} | {rate:,.0f} | {shares} | {self.verdict(median)} |"
        )

    def verdict(self, median_ms: float) -> str:
        if self.window == FLEET_WINDOW:
            return "PASS" if median_ms < INTERVAL_S * 1000 / 4 else "FAIL"
        return "PASS" if self.window / (median_ms / 1000) >= TARGET_JOBS_PER_S else "FAIL"


def run_scenario(
    table: ResultsTable, enqueue: Enqueue, broker: redis.Redis, scenario: Scenario, turns: int
) -> None:
    """Run the scenario's batches alone, `turns` turns or until nothing is due."""
    _only_active(table.engine, scenario.batches)
    fair = FairShare()
    for _ in range(turns):
        sent: list[int] = []
        send = SentJobs(enqueue, sent)
        started = time.perf_counter()
        turn = dispatch_turn(table.engine, send, fair, lambda _running: scenario.window, utcnow())
        elapsed = time.perf_counter() - started
        finish(table.engine, sent)
        broker.delete(JOB_QUEUE)
        if turn.total < scenario.window:
            break  # the batches ran dry: a partial turn says nothing of the rate
        scenario.turns.append(elapsed)
        scenario.shares.update(turn.shared)


def _only_active(engine: Engine, batches: list[str]) -> None:
    """The scenario's batches run; every other batch with jobs due is paused."""
    with engine.begin() as conn:
        for batch in [SINGLE, *WEIGHTED]:
            state = BatchState.active if batch in batches else BatchState.paused
            conn.execute(
                update(batches_table).where(batches_table.c.id == batch).values(state=state.value)
            )


def measure(size: int, due: int, window: int, turns: int, workdir: Path) -> list[Scenario]:
    due = min(due, size // 2)
    window = min(window, due // 10)  # ten full turns at least, at the smallest sizes
    # jobs in proportion to the weights: the three batches run dry together, so every turn
    # shares the window among all three
    weights = sum(WEIGHTED.values())
    parts = [Part(SINGLE, due)] + [
        Part(b, int(due * w / weights), weight=w) for b, w in WEIGHTED.items()
    ]
    scenarios = [  # the small window first: the others run their batches dry
        Scenario(f"one batch, fleet window ({FLEET_CALLS_PER_S:.0f} calls/s)", [SINGLE],
                 FLEET_WINDOW),
        Scenario("one batch", [SINGLE], window),
        Scenario("3 batches, weights 1:2:4", list(WEIGHTED), window),
    ]  # fmt: skip
    with (
        running_redis(workdir) as redis_url,
        temporary_postgres_database(POSTGRES_ADMIN_URL) as url,
    ):
        engine = open_engine(url)
        table = ResultsTable(engine)
        broker = redis.Redis.from_url(redis_url)
        try:
            seconds = fill(table, size, parts)
            print(f"{size:,} jobs: table filled in {seconds:.1f} s", file=sys.stderr)
            with job_enqueuer(Celery("bench", broker=redis_url)) as enqueue:
                for scenario in scenarios:
                    run_scenario(table, enqueue, broker, scenario, turns)
        finally:
            engine.dispose()
    return scenarios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000, 10_000_000])
    parser.add_argument("--due", type=int, default=200_000)
    parser.add_argument("--window", type=int, default=5000)
    parser.add_argument("--turns", type=int, default=40)
    args = parser.parse_args()
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            for scenario in measure(size, args.due, args.window, args.turns, Path(tmp)):
                lines.append(scenario.row(size))
    print("\ndispatcher turns, PostgreSQL results table into a Redis list, fleet simulated\n")
    print("| jobs in table | scenario | window | full turns | ms/turn (median) | ms (min–max) "
          "| jobs/s | shares | verdict |")  # fmt: skip
    print("|---:|---|---:|---:|---:|---:|---:|---|---|")
    print("\n".join(lines))
    print(f"\ntargets: ≥ {TARGET_JOBS_PER_S:,} jobs/s; at the fleet's window a turn takes under "
          f"a quarter of the {INTERVAL_S * 1000:.0f} ms interval")  # fmt: skip


if __name__ == "__main__":
    main()
