"""A big paused batch in a results table, for the resume and reaper-turn benchmarks.

Its jobs go in through the results table's own bulk insert (`ResultsTable.add_jobs`: COPY on
PostgreSQL), as `submit` records them, and the batch is then paused by hand (its row's state),
as a budget or an auth error would leave it. `settle` vacuums and analyses the tables, so each
timed run starts from the same planner statistics and no dead rows left by the run before.
"""

from sqlalchemy import Engine, update

from jobs.database import utcnow
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.results import ResultsTable
from jobs.schema import batches_table, jobs_table
from jobs.spec import JobSpec
from jobs.states import BatchState

MODEL = "bytedance/seedream-4.0"
_CHUNK = 5000


def make_paused_batch(table: ResultsTable, batch: str, size: int) -> None:
    """Record `batch` with `size` queued jobs, then pause it."""
    table.create_schema()
    table.create_batch(batch, f"{batch}.jsonl", "s3://bench/out", MODEL)
    for start in range(0, size, _CHUNK):
        specs = [
            JobSpec(
                key=f"job-{n:07d}", line=n + 1, input=Seedream40Input(prompt=f"picture {n % 8}")
            )
            for n in range(start, min(start + _CHUNK, size))
        ]
        table.add_jobs(batch, specs)
    pause(table.engine, batch)


def pause(engine: Engine, batch: str) -> None:
    """Pause the batch by hand, as `status` would show it."""
    with engine.begin() as conn:
        conn.execute(
            update(batches_table)
            .where(batches_table.c.id == batch)
            .values(state=BatchState.paused.value, paused_reason="paused by hand (benchmark)")
        )


def make_all_due(engine: Engine, batch: str) -> None:
    """Give every job of the batch a due time in the past: a `resume` cut short before it sent
    them (the broker went away), then a pause."""
    with engine.begin() as conn:
        conn.execute(
            update(jobs_table).where(jobs_table.c.batch_id == batch).values(due_at=utcnow())
        )


def settle(engine: Engine) -> None:
    """VACUUM ANALYZE the tables (PostgreSQL), so every run starts from the same state."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE jobs")
        conn.exec_driver_sql("VACUUM ANALYZE batches")
