"""Recording a chunk of new jobs in one round of statements: the fastest way each database has.

The keys are new to the batch: the manifest reader refuses a repeated key with the line that has
it first (producer.key_collisions), so nothing here looks for duplicates, and a repeated key is a
caller's mistake that fails the chunk's transaction (IntegrityError) with nothing of it recorded.

PostgreSQL gets the rows by COPY straight into `jobs`, with ids drawn from the table's sequence
first, so the caller still learns every job's id. At 100,000 rows the server spent about 40 %
less than on the INSERT .. SELECT .. ON CONFLICT DO NOTHING RETURNING from a staging table this
replaced (bench/submission.py). SQLite runs in the process, with no round trip to save: one
INSERT .. RETURNING over the rows.

Rows go in manifest order, and ids rise with it.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from pydantic_core import to_json
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from jobs.schema import jobs_table
from jobs.spec import JobSpec
from jobs.states import JobState

_COLUMNS = (
    "id",
    "batch_id",
    "key",
    "line",
    "spec",
    "metadata",
    "state",
    "attempts",
    "due_at",
    "created_at",
    "updated_at",
    "variant",
)
_COPY_JOBS = f"COPY jobs ({', '.join(_COLUMNS)}) FROM STDIN"
#: One value, an array: fetching 5,000 rows of one id cost the client ~0.6 µs each, the array
#: ~0.2. The sequence is looked up once (an InitPlan); per row, it cost the server ~5 µs.
_NEXT_IDS = (
    "SELECT array(SELECT nextval((SELECT pg_get_serial_sequence('jobs', 'id')::regclass)) "
    "FROM generate_series(1, %(count)s))"
)


def insert_new_jobs(
    conn: Connection, batch_id: str, specs: Sequence[JobSpec], now: datetime
) -> list[int]:
    """Insert `specs` (keys new to the batch) as queued jobs of the batch, due at `now` (the
    dispatcher sends them in their batch's turn); returns their ids, in order."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return _copy_into_postgresql(conn, batch_id, specs, now)
    if dialect == "sqlite":
        return _insert_into_sqlite(conn, batch_id, specs, now)
    raise RuntimeError(f"the results table supports SQLite and PostgreSQL, not {dialect}")


def _copy_into_postgresql(
    conn: Connection, batch_id: str, specs: Sequence[JobSpec], now: datetime
) -> list[int]:
    cursor: Any = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    queued = JobState.queued.value
    # as text: psycopg formatting a datetime cost ~3 µs per value, a third of the whole row
    at = now.isoformat()
    with cursor:
        cursor.execute(_NEXT_IDS, {"count": len(specs)})
        ids: list[int] = cursor.fetchone()[0]
        try:
            with cursor.copy(_COPY_JOBS) as copy:
                for job_id, spec in zip(ids, specs, strict=True):
                    spec_json = spec.input.payload_json()
                    # to_json takes 0.4 µs, the json module 3 µs; a JobSpec's metadata is
                    # checked to be plain JSON (no NaN), so both write the same values
                    metadata_json = to_json(spec.metadata).decode()
                    copy.write_row(
                        (
                            *(job_id, batch_id, spec.key, spec.line, spec_json, metadata_json),
                            *(queued, 0, at, at, at, spec.variant),
                        )
                    )
        except psycopg.IntegrityError as exc:
            # as SQLAlchemy raises it for every statement it runs itself
            raise IntegrityError(_COPY_JOBS, None, exc) from exc
    return ids


def _insert_into_sqlite(
    conn: Connection, batch_id: str, specs: Sequence[JobSpec], now: datetime
) -> list[int]:
    rows = [
        {
            "batch_id": batch_id,
            "key": spec.key,
            "line": spec.line,
            "spec": spec.input.payload(),
            "metadata": spec.metadata,
            "state": JobState.queued.value,
            "attempts": 0,
            "due_at": now,
            "created_at": now,
            "updated_at": now,
            "variant": spec.variant,
        }
        for spec in specs
    ]
    stmt = jobs_table.insert().returning(jobs_table.c.id, sort_by_parameter_order=True)
    return list(conn.execute(stmt, rows).scalars())
