"""Reuse: a re-run that pays only for what changed, and lookups in a table of millions of jobs.

    .venv/bin/python -m bench.reuse [--jobs 1000] [--changed 50] [--workers 2] [--table-jobs N]

1. Against the emulator (no latency, no limit), a private Redis, moto's S3 server, a throwaway
   PostgreSQL database and `workers` workers of 32 threads: a manifest of `jobs` rows is run
   once (every image paid for), then again unchanged as a new batch, then with `changed` rows
   changed. For each: wall seconds from submit to the last job final, the calls billed, the
   jobs reused and the objects in the batch's location.
2. On a PostgreSQL table filled with `table-jobs` succeeded jobs (bench.big_table), what a job's
   reuse costs before it is called: finding stored images of its address (a hit and a miss) and
   taking an address to pay for, each the median of 200.
"""

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.big_table import address_of, fill, settle
from bench.harness import distributed_services, fleet, stored_objects, wait_final
from jobs.database import open_engine
from jobs.results import ResultsTable
from tests.support.commands import cli
from tests.support.services import POSTGRES_ADMIN_URL, running_emulator, temporary_postgres_database

TARGET_RERUN_S = 10.0
LOOKUPS = 200


@dataclass(frozen=True)
class Run:
    name: str
    seconds: float
    billed: int
    reused: int
    objects: int


def write_rows(path: Path, jobs: int, changed: int) -> Path:
    rows = (
        {"id": f"sku-{n:05d}", "prompt": f"product {n} on oak" + (", new" if n < changed else ""),
         "size": "1K"}
        for n in range(jobs)
    )  # fmt: skip
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def rerun(jobs: int, changed: int, workers: int) -> list[Run]:
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        workdir = Path(tmp)
        emulator = stack.enter_context(running_emulator(workdir))
        env = stack.enter_context(distributed_services(emulator, workdir, stack))
        env["SEEDREAM_CONCURRENCY"] = "32"
        env["SEEDREAM_RATE_LIMIT"] = "none"
        with fleet(env, workdir, workers):
            for name, rows_changed in (("first run", 0), ("unchanged", 0), ("changed", changed)):
                manifest = write_rows(workdir / "week.jsonl", jobs, rows_changed)
                batch = name.replace(" ", "-")
                before = emulator.stats()["billed"]
                started = time.monotonic()
                submitted = cli(["submit", str(manifest), "--out", "s3://bench/run", "--batch",
                                 batch, "--no-preflight"], env, workdir)  # fmt: skip
                if submitted.returncode != 0:
                    raise SystemExit(f"submit failed:\n{submitted.stderr[-3000:]}")
                wait_final(env, batch)
                seconds = time.monotonic() - started
                status = json.loads(cli(["status", batch, "--json"], env, workdir).stdout)
                billed = emulator.stats()["billed"] - before
                objects = stored_objects(env["AWS_ENDPOINT_URL"], f"run/{batch}/")
                runs.append(Run(name, seconds, billed, int(status["reused"]), objects))
    return runs


def lookups(table_jobs: int) -> dict[str, float]:
    with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
        table = ResultsTable(open_engine(url))
        try:
            filled = fill(table, table_jobs, [])
            settle(table.engine)
            hit = address_of("done-3", 1234)
            figures = {
                "fill s": filled,
                "stored images of an address (hit) ms": _median_ms(
                    lambda: table.reuse_sources(hit, 0, several=False)
                ),
                "stored images of an address (miss) ms": _median_ms(
                    lambda: table.reuse_sources("0" * 64, 0, several=False)
                ),
            }
            counter = iter(range(10**9))
            figures["take an address to pay for ms"] = _median_ms(
                lambda: table.hold_address(f"{next(counter):064x}", 1)
            )
            assert table.reuse_sources(hit, 0, several=False), (
                "the filled table has no job of that address"
            )
            return figures
        finally:
            table.engine.dispose()


def _median_ms(action: Callable[[], object]) -> float:
    times = []
    for _ in range(LOOKUPS):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=50)
    parser.add_argument("--table-jobs", type=int, default=10_000_000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    runs = rerun(args.jobs, args.changed, args.workers)
    print(f"\n{args.jobs} jobs of 1K images, emulator without latency or limit, "
          f"{args.workers} workers × 32 threads\n")  # fmt: skip
    print("| run | wall s | billed | reused | objects |")
    print("|---|---:|---:|---:|---:|")
    for run in runs:
        print(f"| {run.name} | {run.seconds:.1f} | {run.billed} | {run.reused} | {run.objects} |")
    unchanged = runs[1]
    print(f"\nunchanged re-run under {TARGET_RERUN_S:g} s: {unchanged.seconds < TARGET_RERUN_S}; "
          f"billed 0: {unchanged.billed == 0}; changed billed {args.changed}: "
          f"{runs[2].billed == args.changed}")  # fmt: skip
    figures = lookups(args.table_jobs)
    filled = figures.pop("fill s")
    print(f"\n{args.table_jobs:,} succeeded jobs in the table (filled in {filled:.0f} s)\n")
    print("| lookup | median ms |")
    print("|---|---:|")
    for name, ms in figures.items():
        print(f"| {name} | {ms:.2f} |")


if __name__ == "__main__":
    main()
