"""Growth: what the user's commands and the fleet's turns cost as the results table grows.

    .venv/bin/python -m bench.growth [--sizes 10000 1000000 10000000] [--runs 3]

For each size, a throwaway PostgreSQL database holds that many jobs (bench/big_table.py): a batch
of a tenth of them queued and due (`big`), a batch of 1,000 queued (`small`: the control, the
same at every size), a batch of min(100,000, a tenth) failed jobs, and finished batches of
succeeded jobs for the rest; a private Redis is the broker. Then, in this order, it times:

* `seedream-batch --help` (the CLI's start-up, in every command below), `status`, `status BATCH`,
  as subprocesses (the median of `--runs`);
* one dispatcher turn (`jobs.dispatch.dispatch_turn`, window 1,000, through the product's Redis
  enqueuer; the jobs sent are finished between turns, untimed) and one reaper turn
  (`worker.reaper.Reaper.reap`, its turn always taken, the queue empty), each the median of
  `--runs`;
* `pause BATCH` then `resume BATCH`, `--runs` times each; `retry` of the failed batch; `cancel`.

Prints one table: a row per operation, a column per size (ms), and what the time grows with,
judged from the figures, net of the CLI's start-up for commands: constant; batch size (grows at
the big batch, not at the small one, or not while the failed batch stays at 100,000); table size
(grows even with the batch fixed).
Needs PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test).
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery

from bench.big_table import Part, SentJobs, fill, finish, settle
from jobs.database import open_engine, utcnow
from jobs.dispatch import Enqueue, dispatch_turn
from jobs.fair_share import FairShare
from jobs.results import ResultsTable
from jobs.states import JobState
from tests.support.processes import CLI, clean_env
from tests.support.services import POSTGRES_ADMIN_URL, running_redis, temporary_postgres_database
from worker.publish import job_enqueuer
from worker.reaper import AlwaysMyTurn, Reaper

BIG, SMALL, FAILED = "big", "small", "failed"
#: the row whose ms every CLI command's include: judged net of it
START_UP = "CLI start-up (--help)"
SMALL_JOBS = 1000
MAX_FAILED = 100_000
WINDOW = 1000
#: the reaper's defaults: SEEDREAM_MAX_ATTEMPTS, SEEDREAM_LEASE_SECONDS
MAX_ATTEMPTS, LEASE_S = 5, 60.0


class EmptyQueue:
    """The reaper's queue probe, answering that every message was taken."""

    def is_empty(self) -> bool:
        return True


@dataclass
class Row:
    """One operation: its ms at each size, and the jobs of the batch it acts on."""

    name: str
    ms: list[float] = field(default_factory=list)
    batch: list[int] = field(default_factory=list)
    #: the same operation on the small batch, which tells batch size from table size
    control: "Row | None" = None
    #: ms of it that is not the operation's (the CLI's start-up), at each size
    overhead: list[float] = field(default_factory=list)

    def net(self) -> list[float]:
        """The operation's own ms: what grows with the table, if anything does."""
        return [max(ms - spent, 0.0) for ms, spent in zip(self.ms, self.overhead, strict=True)]

    def grows_with(self) -> str:
        if self.name == START_UP:
            return "(reference: in every command's time)"
        if len(self.ms) < 2:
            return "–"
        net = self.net()
        if _flat(net[0], net[-1]):
            return "constant"
        if self.control is not None:
            return "batch size" if self.control.grows_with() == "constant" else "table size"
        if not self.batch[-1]:
            return "table size"  # it acts on no batch
        fixed = [i for i, jobs in enumerate(self.batch) if jobs == self.batch[-1]]
        if fixed[0] == len(self.ms) - 1:
            return "batch or table size"  # its batch grew with the table at every size
        return "batch size" if _flat(net[fixed[0]], net[-1]) else "table size"


def _flat(first: float, last: float) -> bool:
    """Grew by under half, or by under 50 ms (noise on a shared machine)."""
    return last - first < max(first / 2, 50.0)


class Session:
    """The services of one size and the timed operations on them."""

    def __init__(self, table: ResultsTable, env: dict[str, str], runs: int) -> None:
        self.table = table
        self.env = env
        self.runs = runs

    def cli(self, *argv: str) -> float:
        """Milliseconds `seedream-batch argv` takes to its exit (checked)."""
        started = time.perf_counter()
        done = subprocess.run([CLI, *argv], env=self.env, capture_output=True, text=True)
        elapsed = (time.perf_counter() - started) * 1000
        if done.returncode != 0:
            raise SystemExit(f"seedream-batch {' '.join(argv)} exited {done.returncode}:\n"
                             f"{done.stdout[-2000:]}{done.stderr[-2000:]}")  # fmt: skip
        return elapsed

    def median(self, step: Callable[[], float]) -> float:
        return statistics.median(step() for _ in range(self.runs))

    def dispatcher_turns(self, enqueue: Enqueue) -> float:
        """The median ms of `runs` turns; the fleet finishes what each sent, except the last
        turn's (left for the reaper and `resume` to find, as a live window would be)."""
        fair, times = FairShare(), []
        for run in range(self.runs):
            sent: list[int] = []
            started = time.perf_counter()
            send = SentJobs(enqueue, sent)
            dispatch_turn(self.table.engine, send, fair, lambda _running: WINDOW, utcnow())
            times.append((time.perf_counter() - started) * 1000)
            if run < self.runs - 1:
                finish(self.table.engine, sent)
        return statistics.median(times)

    def reaper_turn(self) -> float:
        reaper = Reaper(
            self.table,
            AlwaysMyTurn(),
            EmptyQueue(),
            max_attempts=MAX_ATTEMPTS,
            lease_s=LEASE_S,
            interval_s=10.0,
        )
        started = time.perf_counter()
        reaper.reap()
        return (time.perf_counter() - started) * 1000

    def pause_resume(self, batch: str) -> tuple[float, float]:
        """Median ms of `pause` and of `resume` over `runs` cycles."""
        pauses, resumes = [], []
        for _ in range(self.runs):
            pauses.append(self.cli("pause", batch))
            resumes.append(self.cli("resume", batch))
        return statistics.median(pauses), statistics.median(resumes)


def measure(size: int, runs: int, workdir: Path) -> dict[str, tuple[float, int]]:
    """Each operation's ms at this size, and the jobs of the batch it acts on."""
    big, failed = size // 10, min(MAX_FAILED, size // 10)
    parts = [Part(BIG, big), Part(SMALL, SMALL_JOBS), Part(FAILED, failed, JobState.failed)]
    with (
        running_redis(workdir) as redis_url,
        temporary_postgres_database(POSTGRES_ADMIN_URL) as url,
    ):
        engine = open_engine(url)
        try:
            table = ResultsTable(engine)
            seconds = fill(table, size, parts)
            print(f"{size:,} jobs: table filled in {seconds:.1f} s", file=sys.stderr)
            env = clean_env(SEEDREAM_DATABASE_URL=url, SEEDREAM_BROKER_URL=redis_url)
            s = Session(table, env, runs)
            s.cli("--help")  # the CLI's files in the page cache, as they are for a user
            result = {
                START_UP: (s.median(lambda: s.cli("--help")), 0),
                "`status`": (s.median(lambda: s.cli("status")), 0),
                "`status BATCH`": (s.median(lambda: s.cli("status", BIG)), big),
                "`status BATCH` (small)": (s.median(lambda: s.cli("status", SMALL)), SMALL_JOBS),
            }
            with job_enqueuer(Celery("bench", broker=redis_url)) as enqueue:
                result["dispatcher turn"] = (s.dispatcher_turns(enqueue), 0)
            result["reaper turn"] = (s.median(s.reaper_turn), 0)
            settle(engine)
            for batch, jobs, label in ((BIG, big, ""), (SMALL, SMALL_JOBS, " (small)")):
                pause, resume = s.pause_resume(batch)
                result[f"`pause BATCH`{label}"] = (pause, jobs)
                result[f"`resume BATCH`{label}"] = (resume, jobs)
            result["`retry BATCH` (all failed)"] = (s.cli("retry", FAILED), failed)
            result["`cancel BATCH`"] = (s.cli("cancel", BIG), big)
            result["`cancel BATCH` (small)"] = (s.cli("cancel", SMALL), SMALL_JOBS)
        finally:
            engine.dispose()
    return result


def table_of(sizes: list[int], measured: list[dict[str, tuple[float, int]]]) -> list[str]:
    rows = {name: Row(name) for name in measured[0]}
    for at_size in measured:
        start_up = at_size[START_UP][0]
        for name, (ms, jobs) in at_size.items():
            rows[name].ms.append(ms)
            rows[name].batch.append(jobs)
            rows[name].overhead.append(start_up if name.startswith("`") else 0.0)
    for name, row in rows.items():
        row.control = rows.get(f"{name} (small)")
    header = "| operation | " + " | ".join(f"{n:,} jobs" for n in sizes) + " | grows with |"
    lines = [header, "|---|" + "---:|" * len(sizes) + "---|"]
    for row in rows.values():
        cells = " | ".join(f"{ms:,.0f}" for ms in row.ms)
        lines.append(f"| {row.name} | {cells} | {row.grows_with()} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 1_000_000, 10_000_000])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        measured = [measure(size, args.runs, Path(tmp)) for size in args.sizes]
    print("\nms per operation, PostgreSQL results table, Redis broker, no worker; the big batch "
          f"is a tenth of the jobs, the small one {SMALL_JOBS:,}, the failed one "
          f"min({MAX_FAILED:,}, a tenth)\n")  # fmt: skip
    print("\n".join(table_of(args.sizes, measured)))


if __name__ == "__main__":
    main()
