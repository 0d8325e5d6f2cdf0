"""A results table of millions of jobs on PostgreSQL, filled in minutes, for the scale benchmarks.

`submit` would take ~5 minutes per 10 M rows and check every row; the benchmarks need only the
rows, so each batch's jobs go in as one INSERT .. SELECT over generate_series, with columns as a
real batch leaves them: a spec and metadata JSON, a key and a line, and for finished jobs their
image's URI, size, hash, timings and content address (`address_of`). The table keeps every index
the product makes (`ResultsTable.create_schema`), so the rows cost what they cost in production.
`settle` then VACUUM ANALYZEs, as autovacuum would have long since done on a table that old.

A table of `total` jobs is `background` finished batches of succeeded jobs (their jobs are what
grows with time) plus the batches a benchmark acts on (`Part`s).
"""

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Engine, any_, bindparam, insert, text, update
from sqlalchemy.dialects.postgresql import ARRAY

from jobs.database import utcnow
from jobs.dispatch import Enqueue
from jobs.results import ResultsTable
from jobs.schema import batches_table, jobs_table
from jobs.states import BatchState, JobState

MODEL = "bytedance/seedream-4.0"
#: finished batches the bulk of the table is spread over
BACKGROUND_BATCHES = 9

_JOBS = """
INSERT INTO jobs (batch_id, key, line, spec, metadata, state, attempts, free_attempts, due_at,
    sent_at, error_class, error_message, output_uri, bytes, sha256, width, height, api_ms,
    fetch_ms, store_ms, cost, created_at, updated_at, finished_at, address)
SELECT p.batch, 'campaign-' || n % 7 || '/sku-' || lpad(n::text, 8, '0'), n,
    json_build_object('prompt', 'a ceramic mug on oak, studio photo, variant ' || n,
                      'size', '2K', 'aspect_ratio', '1:1'),
    json_build_object('caption', 'caption for ' || n),
    :state, :attempts, 0, p.due_at, p.sent_at,
    CASE WHEN p.failed THEN 'server_error' END,
    CASE WHEN p.failed THEN 'HTTP 500 from the provider after 5 attempts' END,
    CASE WHEN p.ok THEN 's3://bench/out/' || p.batch || '/sku-' || n || '.jpeg' END,
    CASE WHEN p.ok THEN 110000 + n % 5000 END,
    CASE WHEN p.ok THEN md5(n::text) || md5(p.batch || n) END,
    CASE WHEN p.ok THEN 2048 END, CASE WHEN p.ok THEN 2048 END,
    CASE WHEN p.ok THEN 9000 + n % 4000 END, CASE WHEN p.ok THEN 300 END,
    CASE WHEN p.ok THEN 120 END, CASE WHEN p.ok THEN 0.03 END,
    p.created, p.created, p.finished_at,
    CASE WHEN p.ok THEN encode(sha256(convert_to(p.batch || '/' || n, 'UTF8')), 'hex') END
FROM generate_series(1, :jobs) AS n,
    (SELECT CAST(:batch AS text) AS batch, CAST(:succeeded AS boolean) AS ok,
        CAST(:failed AS boolean) AS failed, CAST(:due_at AS timestamptz) AS due_at,
        CAST(:sent_at AS timestamptz) AS sent_at, CAST(:created AS timestamptz) AS created,
        CAST(:finished_at AS timestamptz) AS finished_at) AS p
"""


def address_of(batch: str, n: int) -> str:
    """The content address the table gives job `n` of a succeeded `batch` (its reuse lookups)."""
    return hashlib.sha256(f"{batch}/{n}".encode()).hexdigest()


@dataclass(frozen=True)
class Part:
    """A batch a benchmark acts on: `jobs` jobs all in `state` (queued ones due now)."""

    batch: str
    jobs: int
    state: JobState = JobState.queued
    weight: float = 1.0


def fill(table: ResultsTable, total: int, parts: list[Part]) -> float:
    """Make the schema and `total` jobs: `parts` plus finished batches for the rest; VACUUM
    ANALYZE. Returns the seconds it took."""
    started = time.monotonic()
    table.create_schema()
    now = utcnow()
    rest = total - sum(part.jobs for part in parts)
    if rest < 0:
        raise ValueError(f"the parts hold more than the {total:,} jobs of the table")
    background = [
        Part(f"done-{n}", rest // BACKGROUND_BATCHES + (n < rest % BACKGROUND_BATCHES),
             JobState.succeeded)
        for n in range(BACKGROUND_BATCHES)
    ]  # fmt: skip
    for age, part in enumerate(background):
        _add_batch(table.engine, part, now - timedelta(days=BACKGROUND_BATCHES + 1 - age))
    for part in parts:
        _add_batch(table.engine, part, now)
    settle(table.engine)
    return time.monotonic() - started


def _add_batch(engine: Engine, part: Part, created: datetime) -> None:
    finished = part.state in (JobState.succeeded, JobState.failed)
    with engine.begin() as conn:
        conn.execute(
            insert(batches_table).values(
                id=part.batch,
                created_at=created,
                started_at=created,
                manifest=f"{part.batch}.jsonl",
                output="s3://bench/out",
                model=MODEL,
                rejected=0,
                state=BatchState.active.value,
                budget_used=part.jobs if part.state is JobState.succeeded else 0,
                weight=part.weight,
            )
        )
        if not part.jobs:
            return
        conn.execute(
            text(_JOBS),
            {
                "batch": part.batch,
                "jobs": part.jobs,
                "state": part.state.value,
                "attempts": 5 if part.state is JobState.failed else int(finished),
                "due_at": None if finished else created,
                "sent_at": created if finished else None,
                "failed": part.state is JobState.failed,
                "succeeded": part.state is JobState.succeeded,
                "created": created,
                "finished_at": created + timedelta(hours=1) if finished else None,
            },
        )


def settle(engine: Engine) -> None:
    """VACUUM ANALYZE the tables, so every measure starts with fresh planner statistics and no
    dead rows left by the one before."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE jobs")
        conn.exec_driver_sql("VACUUM ANALYZE batches")


def finish(engine: Engine, job_ids: list[int]) -> None:
    """What the fleet does with the messages of a dispatcher turn: claim the jobs and finish
    them (succeeded), so the next turn finds its window empty."""
    now = utcnow()
    chosen = jobs_table.c.id == any_(bindparam("ids", job_ids, type_=ARRAY(BigInteger)))
    with engine.begin() as conn:
        conn.execute(
            update(jobs_table)
            .where(chosen)
            .values(state=JobState.succeeded.value, finished_at=now, updated_at=now)
        )


class SentJobs:
    """A dispatcher's enqueue that notes the jobs it sends in `sent`, for `finish`."""

    def __init__(self, enqueue: Enqueue, sent: list[int]) -> None:
        self._enqueue = enqueue
        self._sent = sent

    def __call__(self, job_ids: Sequence[int]) -> None:
        self._enqueue(job_ids)
        self._sent.extend(job_ids)
