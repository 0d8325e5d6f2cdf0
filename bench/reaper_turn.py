"""What a reaper turn costs the results table while a big batch is paused.

    .venv/bin/python -m bench.reaper_turn [--size 1000000] [--turns 20]

A throwaway PostgreSQL database holds one paused batch of `--size` queued jobs
(bench/paused_batch.py) and nothing else; the queue is taken as empty, so each turn runs all the
table work a reaper turn does (worker/reaper.py): `recover_expired_leases`, `make_unclaimed_due`
and a dispatcher turn (into a list: nothing should be sent). Two cases:
the paused batch's jobs waiting without a due time (their messages sent before the pause), and
the same jobs all carrying a due time (a resume cut short, then a pause). Prints, per case and
step, milliseconds per turn (median, min–max over `--turns` turns). Needs PostgreSQL on
127.0.0.1:5432 (scripts/setup.sh --test).
"""

import argparse
import statistics
import time
from collections.abc import Callable

from bench.paused_batch import make_all_due, make_paused_batch, settle
from jobs.database import open_engine
from jobs.results import ResultsTable
from tests.support.dispatching import dispatched
from tests.support.services import POSTGRES_ADMIN_URL, temporary_postgres_database

BATCH = "bench-paused"
#: the reaper's defaults: SEEDREAM_LEASE_SECONDS and SEEDREAM_MAX_ATTEMPTS
LEASE_S = 60.0
MAX_ATTEMPTS = 5


def turn_steps(table: ResultsTable) -> dict[str, Callable[[], int]]:
    """Each step of a turn's table work, returning how many jobs it touched."""
    return {
        "recover_expired_leases": lambda: len(table.recover_expired_leases(MAX_ATTEMPTS)),
        "make_unclaimed_due": lambda: table.make_unclaimed_due(LEASE_S),
        "dispatcher turn": lambda: len(dispatched(table, window=1000)),
    }


def timed_turns(table: ResultsTable, turns: int) -> dict[str, list[float]]:
    """Milliseconds of each step (and of the whole turn) over `turns` turns."""
    times: dict[str, list[float]] = {}
    for _ in range(turns):
        total = 0.0
        for name, step in turn_steps(table).items():
            started = time.perf_counter()
            touched = step()
            elapsed = (time.perf_counter() - started) * 1000
            if touched:
                raise SystemExit(f"{name} touched {touched} jobs of a paused batch")
            times.setdefault(name, []).append(elapsed)
            total += elapsed
        times.setdefault("whole turn", []).append(total)
    return times


def report(case: str, times: dict[str, list[float]]) -> list[str]:
    return [
        f"| {case} | {step} | {statistics.median(ms):.1f} | {min(ms):.1f}–{max(ms):.1f} |"
        for step, ms in times.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--turns", type=int, default=20)
    args = parser.parse_args()
    lines = []
    with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
        engine = open_engine(url)
        table = ResultsTable(engine)
        try:
            make_paused_batch(table, BATCH, args.size)
            settle(engine)
            lines += report("waiting, no due time", timed_turns(table, args.turns))
            make_all_due(engine, BATCH)
            settle(engine)
            lines += report("every job due", timed_turns(table, args.turns))
        finally:
            engine.dispose()
    print(f"\nreaper turn, table work, one paused batch of {args.size:,} jobs, PostgreSQL, "
          f"{args.turns} turns\n")  # fmt: skip
    print("| paused batch's jobs | step | ms per turn (median) | ms (min–max) |")
    print("|---|---|---:|---:|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
