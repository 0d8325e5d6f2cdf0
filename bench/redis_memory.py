"""Redis memory with 1,000,000 jobs queued in the results table: the bar is at most 20 MB.

    .venv/bin/python -m bench.redis_memory [--jobs 1000000] [--latency 30]

Before the table became the queue, `submit` pushed one message per job onto Redis: about 515
bytes of `used_memory` per job (bench.submission), so some 515 MB for 1,000,000 jobs. Now the
dispatcher keeps only a short window of messages on Redis and the rest wait in the table.

Starts a private Redis, a throwaway PostgreSQL database, the emulator answering after `--latency`
seconds (so no job finishes while it measures and the jobs stay queued) and one
`seedream-batch worker` process, records `--jobs` jobs with `seedream-batch submit`, waits until
the worker's dispatcher has filled its window (the list's length and the running jobs steady for
a few seconds) and prints Redis's `INFO memory` used_memory at each stage, and its growth over
the empty server's. The machine may be shared with other work; the memory figures are not
sensitive to that.
"""

import argparse
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import redis

from bench.backlog import backlog_env, timed_submit
from bench.harness import fleet, write_repeated_manifest
from jobs.database import open_engine
from jobs.redis_keys import JOB_QUEUE
from jobs.results import ResultsTable
from jobs.states import JobState
from tests.support.services import running_emulator

BATCH = "million"
BAR_MB = 20.0
THREADS = 16
#: how long the window must stay the same size to count as filled
STEADY_S = 5.0
FILL_LIMIT_S = 120.0


@dataclass(frozen=True)
class Stage:
    name: str
    jobs: int
    running: int
    messages: int
    used_memory: int


def snapshot(name: str, broker: redis.Redis, table: ResultsTable | None) -> Stage:
    counts = table.counts(BATCH) if table else {}
    return Stage(
        name,
        jobs=sum(counts.values()),
        running=counts.get(JobState.running, 0),
        messages=int(broker.llen(JOB_QUEUE)),
        used_memory=int(broker.info("memory")["used_memory"]),
    )


def wait_window_filled(broker: redis.Redis, table: ResultsTable) -> Stage:
    """The stage once the list's length and the running jobs have not moved for STEADY_S."""
    deadline = time.monotonic() + FILL_LIMIT_S
    last = snapshot("window filled", broker, table)
    steady_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = snapshot("window filled", broker, table)
        if (now.messages, now.running) != (last.messages, last.running) or now.running == 0:
            steady_since = time.monotonic()
        elif time.monotonic() - steady_since >= STEADY_S:
            return now
        last = now
    raise TimeoutError(f"the window did not settle within {FILL_LIMIT_S:g} s: {last}")


def report(stages: list[Stage]) -> str:
    baseline = stages[0].used_memory
    rows = [
        "| stage | jobs in table | running | messages in list | used_memory MB "
        "| over empty MB | bar |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for stage in stages:
        passed = "PASS" if stage.used_memory <= BAR_MB * 1e6 else "FAIL"
        bar = f"≤ {BAR_MB:g} MB: {passed}" if stage is stages[-1] else ""
        rows.append(
            f"| {stage.name} | {stage.jobs:,} | {stage.running} | {stage.messages} "
            f"| {stage.used_memory / 1e6:.2f} | {(stage.used_memory - baseline) / 1e6:.2f} "
            f"| {bar} |"
        )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1_000_000)
    parser.add_argument("--latency", type=float, default=30.0, help="seconds per API call")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        emulator.configure(latency_s=args.latency)
        env = backlog_env(emulator, workdir, stack, THREADS)
        broker = stack.enter_context(redis.Redis.from_url(env["SEEDREAM_BROKER_URL"]))
        engine = open_engine(env["SEEDREAM_DATABASE_URL"])
        stack.callback(engine.dispose)
        manifest = write_repeated_manifest(workdir / "million.jsonl", args.jobs)
        stages = [snapshot("empty Redis", broker, None)]
        with fleet(env, workdir, workers=1):
            stages.append(snapshot("worker idle", broker, None))
            submit_s = timed_submit(env, manifest, BATCH)
            filled = wait_window_filled(broker, ResultsTable(engine))
            stages.append(filled)
    print(
        f"\n{args.jobs:,} jobs recorded by `submit` in {submit_s:.1f} s; one worker × {THREADS} "
        f"threads, API latency {args.latency:g} s; MB = 10^6 bytes\n"
    )
    print(report(stages))


if __name__ == "__main__":
    main()
