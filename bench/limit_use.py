"""Limit use: how much of the provider's rate limit the fleet really uses, and never more.

    .venv/bin/python -m bench.limit_use [--jobs 1500] [--limit 600/60s] [--latency 3]
        [--answer unauthorized]

Starts the emulator enforcing `--limit` per gateway (with the given call latency), a private
Redis and a throwaway PostgreSQL database, and runs the same batch through fleets of `worker`
processes: configured with the emulator's limit (1 process, then 4), then configured at twice it
(the limiter must find the real limit from the 429s). It samples the emulator's counters twice a
second and prints a table: the steady rate (between 10 % and 90 % of the batch) over the limit,
the most calls the emulator saw arrive in any window (refused ones included), and the refusals.
The emulator refuses over-rate calls as `--answer` says: by default AI Gateway's real 401/2009
(`capacity`, 429/3040, is the provider's and never lowers the fleet's rate).
"""

import argparse
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.harness import all_final, fleet, submit, wait_final
from jobs.database import open_engine
from jobs.rates import RateLimit
from jobs.results import ResultsTable
from jobs.states import JobState
from tests.support.manifests import write_manifest
from tests.support.processes import clean_env
from tests.support.services import (
    POSTGRES_ADMIN_URL,
    Emulator,
    running_emulator,
    running_redis,
    temporary_postgres_database,
)

#: the share of the batch before and after which the rate is not "steady" (start-up, the tail)
STEADY_FROM, STEADY_TO = 0.1, 0.9
SAMPLE_EVERY_S = 0.5
BATCH = "limit"


@dataclass(frozen=True)
class Scenario:
    processes: int
    threads: int
    #: the rate the fleet is configured with, as a multiple of the emulator's real limit
    configured_over_real: float


@dataclass
class Outcome:
    scenario: Scenario
    configured: RateLimit
    seconds: float
    steady_rate: float
    max_offered: int
    refused: int
    billed: int
    succeeded: int

    def row(self, limit: RateLimit, jobs: int) -> str:
        per_second = limit.count / limit.window_s
        s = self.scenario
        return (
            f"| {f'{s.processes} × {s.threads}':<10} | {self.configured!s:>10} "
            f"| {limit!s:>9} | {f'{self.succeeded}/{jobs}':>11} | {self.seconds:>6.1f} "
            f"| {self.steady_rate:>6.2f} | {self.steady_rate / per_second:>7.3f} "
            f"| {self.max_offered:>15} | {self.refused:>4} "
            f"| {self.refused / max(self.billed + self.refused, 1):>5.1%} |"
        )


HEADER = (
    "| workers    | configured |     limit |  succeeded  | wall s | rate/s "
    "| ÷ limit | max in a window | 429s | 429 % |\n"
    "|------------|------------|-----------|-------------|--------|--------"
    "|---------|-----------------|------|-------|"
)


def run_scenario(
    scenario: Scenario,
    emulator: Emulator,
    limit: RateLimit,
    jobs: int,
    workdir: Path,
    stack: ExitStack,
) -> Outcome:
    """One batch through a fresh fleet; the emulator's counters sampled until it is billed."""
    redis_url = stack.enter_context(running_redis(workdir))
    database = stack.enter_context(temporary_postgres_database(POSTGRES_ADMIN_URL))
    configured = RateLimit(
        count=round(limit.count * scenario.configured_over_real), window_s=limit.window_s
    )
    env = clean_env(
        **{**emulator.env(), "SEEDREAM_RATE_LIMIT": str(configured)},
        SEEDREAM_BROKER_URL=redis_url,
        SEEDREAM_DATABASE_URL=database,
        SEEDREAM_CONCURRENCY=str(scenario.threads),
    )
    manifest = write_manifest(workdir / f"limit-{jobs}.jsonl", good=jobs).path
    emulator.reset()
    with fleet(env, workdir, scenario.processes):
        started = time.monotonic()
        submit(env, manifest, BATCH, str(workdir / "out"))
        samples = _sample_until_billed(emulator, jobs, env)
        seconds = time.monotonic() - started
        counts = wait_final(env, BATCH)
    stats = emulator.stats()
    return Outcome(
        scenario,
        configured,
        seconds,
        _steady_rate(samples, jobs),
        max(g["max_offered_in_any_window"] for g in stats["gateways"].values()),
        stats["rate_limited"],
        stats["billed"],
        counts[JobState.succeeded],
    )


def _sample_until_billed(
    emulator: Emulator, jobs: int, env: dict[str, str]
) -> list[tuple[float, int]]:
    """(time, calls billed so far) twice a second until every job is billed, or final unbilled
    (failed after its attempts)."""
    engine = open_engine(env["SEEDREAM_DATABASE_URL"])
    table = ResultsTable(engine)
    samples: list[tuple[float, int]] = []
    try:
        while True:
            billed = emulator.stats()["billed"]
            samples.append((time.monotonic(), billed))
            if billed >= jobs or all_final(table.counts(BATCH)):
                return samples
            time.sleep(SAMPLE_EVERY_S)
    finally:
        engine.dispose()


def _steady_rate(samples: list[tuple[float, int]], jobs: int) -> float:
    """Calls billed per second between STEADY_FROM and STEADY_TO of the batch."""
    start = next(s for s in samples if s[1] >= STEADY_FROM * jobs)
    end = next((s for s in samples if s[1] >= STEADY_TO * jobs), samples[-1])
    return (end[1] - start[1]) / max(end[0] - start[0], 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1500)
    parser.add_argument("--limit", default="600/60s", help="the emulator's limit per gateway")
    parser.add_argument("--latency", type=float, default=3.0, help="seconds per API call")
    parser.add_argument("--jitter", type=float, default=0.5, help="uniform extra 0..jitter s")
    parser.add_argument(
        "--answer",
        default="unauthorized",
        choices=["unauthorized", "plain_429", "capacity"],
        help="how the emulator refuses an over-rate call",
    )
    args = parser.parse_args()
    limit = RateLimit.parse(args.limit)
    assert limit is not None, "the benchmark needs a limit to measure against"
    # enough threads for the limit at this latency, with a third to spare
    in_flight = limit.count / limit.window_s * (args.latency + args.jitter) * 4 / 3
    threads_for = {1: max(8, round(in_flight)), 4: max(4, round(in_flight / 4))}
    scenarios = [
        Scenario(1, threads_for[1], 1.0),
        Scenario(4, threads_for[4], 1.0),
        Scenario(4, threads_for[4], 2.0),
    ]

    outcomes = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        emulator.configure(
            latency_s=args.latency,
            jitter_s=args.jitter,
            rate_limit=str(limit),
            rate_limit_answer=args.answer,
        )
        for scenario in scenarios:
            with ExitStack() as per_run:
                outcomes.append(
                    run_scenario(scenario, emulator, limit, args.jobs, workdir, per_run)
                )
    print(
        f"\n{args.jobs} jobs, emulator limit {limit} per gateway, "
        f"API latency {args.latency}+0..{args.jitter} s, over-rate answer {args.answer}\n"
    )
    print(HEADER)
    for outcome in outcomes:
        print(outcome.row(limit, args.jobs))


if __name__ == "__main__":
    main()
