"""Submission speed: a generated manifest through `seedream-batch submit`, with no worker running.

    .venv/bin/python -m bench.submission [--rows 1000000] [--database postgresql --database sqlite]

Writes a JSONL manifest of unique, varied, valid rows to a temporary folder, starts a private
Redis, moto's S3 server (the output, which `submit` checks it can write to) and a throwaway
PostgreSQL database (or a SQLite file), runs `submit` as a user would and prints, beside each
target: rows/s, the submit process's peak RSS, and whether the table holds exactly one due job
per row. `submit` only records the jobs and wakes the fleet's dispatcher, which sends them a
window at a time (bench/dispatch_rate.py): the queue stays empty here. Needs
PostgreSQL on 127.0.0.1:5432 (scripts/setup.sh --test).
"""

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import func, select

from bench.harness import BUCKET, S3_ENV, s3_client
from bench.process_stats import run_measured
from jobs.database import open_engine
from jobs.redis_keys import JOB_QUEUE
from jobs.schema import jobs_table
from tests.support.processes import CLI, clean_env
from tests.support.services import (
    POSTGRES_ADMIN_URL,
    running_redis,
    running_s3,
    temporary_postgres_database,
)

TARGET_ROWS_PER_S = 30_000
TARGET_PEAK_RSS_MB = 300

_SUBJECTS = [
    "a ceramic mug",
    "a red bicycle",
    "a lighthouse",
    "an old map",
    "a glass teapot",
    "a city street",
    "a mountain lake",
    "a paper crane",
    "a vintage camera",
    "a fox",
]
_SETTINGS = [
    "on oak",
    "at dawn",
    "in the rain",
    "under neon light",
    "on a marble table",
    "in fog",
    "at golden hour",
    "in winter",
    "on linen",
    "in a greenhouse",
]
_STYLES = [
    "soft light",
    "studio photo",
    "watercolour",
    "35mm film",
    "isometric render",
    "oil painting",
    "macro shot",
    "high contrast",
    "pastel tones",
    "line drawing",
]
_SIZES = ["1K", "2K", "4K"]
_RATIOS = ["1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3", "21:9"]  # fmt: skip


def manifest_row(n: int) -> dict[str, object]:
    """Row `n` of the bench manifest: a unique key, a varied prompt, some optional fields."""
    prompt = f"{_SUBJECTS[n % 10]} {_SETTINGS[n // 10 % 10]}, {_STYLES[n // 100 % 10]}, variant {n}"
    row: dict[str, object] = {"id": f"campaign-{n % 7}/sku-{n:07d}", "prompt": prompt}
    if n % 3 == 0:
        row["size"] = _SIZES[n % len(_SIZES)]
    if n % 4 == 0:
        row["aspect_ratio"] = _RATIOS[n % len(_RATIOS)]
    if n % 50 == 1:
        row |= {"size": "custom", "width": 1024, "height": 1536}
    if n % 5 == 0:
        row |= {"caption": f"caption for {n}", "labels": ["bench", f"group-{n % 13}"]}
    return row


def write_manifest(path: Path, rows: int) -> Path:
    with path.open("w") as out:
        for n in range(rows):
            out.write(json.dumps(manifest_row(n)) + "\n")
    return path


@dataclass
class Measured:
    database: str
    rows: int
    seconds: float
    #: user + system CPU time of the submit process (the machine is shared: wall time is noisy)
    cpu_seconds: float
    peak_rss_mb: float
    #: jobs the table holds due, waiting for the dispatcher
    due: int
    #: messages on the queue: none, the dispatcher sends them
    queued: int

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds


def submit_once(
    database: str,
    database_url: str,
    services: dict[str, str],
    manifest: Path,
    rows: int,
    workdir: Path,
) -> Measured:
    broker = redis.Redis.from_url(services["SEEDREAM_BROKER_URL"])
    broker.flushall()
    env = clean_env(**services, SEEDREAM_DATABASE_URL=database_url)
    log = workdir / f"submit-{database}.log"
    argv = [CLI, "submit", str(manifest), "--out", f"s3://{BUCKET}/out", "--batch", "bench"]
    with log.open("wb") as out:
        cost = run_measured(argv, env, workdir, out)
    if cost.exit_code != 0:
        raise SystemExit(f"submit failed ({cost.exit_code}):\n{log.read_text()[-3000:]}")
    return Measured(
        database=database,
        rows=rows,
        seconds=cost.seconds,
        cpu_seconds=cost.cpu_seconds,
        peak_rss_mb=cost.peak_rss_bytes / 1024**2,
        due=due_jobs(database_url),
        queued=int(broker.llen(JOB_QUEUE)),
    )


def due_jobs(database_url: str) -> int:
    engine = open_engine(database_url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(jobs_table.c.due_at.is_not(None))
            return int(conn.execute(query).scalar_one())
    finally:
        engine.dispose()


@contextmanager
def database_url(kind: str, workdir: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
        yield url


def report(results: list[Measured]) -> str:
    def row(name: str, values: list[str], target: str) -> str:
        return f"| {name} | " + " | ".join(values) + f" | {target} |"

    lines = [
        row("measure", [r.database for r in results], "target"),
        row("---", ["---:" for _ in results], "---"),
        row("rows", [f"{r.rows:,}" for r in results], ""),
        row("seconds", [f"{r.seconds:.1f}" for r in results], ""),
        row("rows/s", [f"{r.rows_per_s:,.0f}" for r in results], f"≥ {TARGET_ROWS_PER_S:,}"),
        row("submit CPU s (user + sys)", [f"{r.cpu_seconds:.1f}" for r in results], ""),
        row("peak RSS MB", [f"{r.peak_rss_mb:.0f}" for r in results], f"≤ {TARGET_PEAK_RSS_MB}"),
        row("jobs due in the table == rows", [str(r.due == r.rows) for r in results], "True"),
        row("messages on the queue", [f"{r.queued:,}" for r in results], "0"),
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--database",
        choices=["postgresql", "sqlite"],
        action="append",
        help="results table to submit into; repeat for both (default postgresql)",
    )
    args = parser.parse_args()
    databases = args.database or ["postgresql"]

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        manifest = write_manifest(workdir / "bench.jsonl", args.rows)
        size_mb = manifest.stat().st_size / 1e6
        print(f"manifest: {args.rows:,} rows, {size_mb:.0f} MB, written in "
              f"{time.monotonic() - started:.1f} s", file=sys.stderr)  # fmt: skip
        results = []
        with running_redis(workdir) as redis_url, running_s3(workdir) as s3_url:
            # submit checks it can write to the output before it records anything
            s3_client(s3_url).create_bucket(Bucket=BUCKET)
            services = {**S3_ENV, "AWS_ENDPOINT_URL": s3_url, "SEEDREAM_BROKER_URL": redis_url}
            for kind in databases:
                with database_url(kind, workdir) as url:
                    results.append(submit_once(kind, url, services, manifest, args.rows, workdir))
    print(f"\n`seedream-batch submit`, {args.rows:,}-row JSONL manifest, no worker running\n")
    print(report(results))


if __name__ == "__main__":
    main()
