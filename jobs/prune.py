"""Removing old, finished batches' rows from the results table (`seedream-batch prune`).

The pipeline never deletes a row, so the table grows with every batch. Pruning removes a
finished batch's job_images, attempts and jobs, then its own row; the images in storage are
never touched (their URIs go with the rows).

A batch is prunable when none of its jobs is unfinished (queued, running, generated) and its
last activity (its latest job's finish, or its creation when it has no jobs) is older than the
cutoff. Both are read through `ix_jobs_batch_state`, per batch, never by scanning the table.

A million-job batch is not one transaction: its jobs go by chunks, found through
`ix_jobs_batch_state` (its final states), each chunk's rows locked (PostgreSQL) and deleted in
its own transaction; their attempts and images' rows are found by job id.
The batch row goes last, and only once no job of it is left, so a prune that stops half way
leaves a batch the next prune finishes. Every delete re-checks that the job is final and
finished before the cutoff: a `retry` that reopened a job meanwhile keeps it, and its batch.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    case,
    delete,
    exists,
    func,
    or_,
    select,
)

from jobs.records import as_utc
from jobs.schema import attempts_table, batches_table, job_images_table, jobs_table
from jobs.states import TERMINAL_STATES, UNFINISHED_STATES

#: jobs deleted per transaction: small enough that a million-job batch never holds a long lock
CHUNK = 5000
_FINAL = sorted(state.value for state in TERMINAL_STATES)


@dataclass(frozen=True)
class PrunableBatch:
    """A batch `prune` would remove: its name, how many jobs it has, when it last changed."""

    name: str
    jobs: int
    last_activity: datetime


@dataclass(frozen=True)
class PrunedBatch:
    """What `prune_batch` removed; `complete` is False when jobs were left (a job was reopened
    meanwhile, or finished after the cutoff), and with them the batch's row."""

    name: str
    jobs: int
    attempts: int
    complete: bool


def _last_activity() -> ColumnElement[datetime]:
    """The batch's latest job finish, or its creation when no job of it has finished."""
    latest_finish = (
        select(func.max(jobs_table.c.finished_at))
        .where(jobs_table.c.batch_id == batches_table.c.id)
        .scalar_subquery()
    )
    return func.coalesce(latest_finish, batches_table.c.created_at)


def _has_unfinished_jobs() -> ColumnElement[bool]:
    return exists().where(
        jobs_table.c.batch_id == batches_table.c.id, jobs_table.c.state.in_(UNFINISHED_STATES)
    )


def prunable_batches(
    engine: Engine, cutoff: datetime, *, batch_id: str | None = None
) -> list[PrunableBatch]:
    """The finished batches (or `batch_id` alone, if it is one) whose last activity is before
    `cutoff`, oldest first."""
    last_activity = _last_activity().label("last_activity")
    job_count = (
        select(func.count())
        .where(jobs_table.c.batch_id == batches_table.c.id)
        .scalar_subquery()
        .label("jobs")
    )
    query = (
        select(batches_table.c.id, job_count, last_activity)
        # the age is only read for a finished batch: a running one's jobs are never scanned
        .where(case((_has_unfinished_jobs(), None), else_=_last_activity()) < cutoff)
        .order_by(batches_table.c.created_at, batches_table.c.id)
    )
    if batch_id is not None:
        query = query.where(batches_table.c.id == batch_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [PrunableBatch(row.id, row.jobs, _in_utc(row.last_activity)) for row in rows]


def unfinished_jobs(engine: Engine, batch_id: str) -> int:
    """How many of the batch's jobs are queued, running or generated (0: it is finished)."""
    query = select(func.count()).where(
        jobs_table.c.batch_id == batch_id, jobs_table.c.state.in_(UNFINISHED_STATES)
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def prune_batch(
    engine: Engine, batch_id: str, cutoff: datetime, *, chunk: int = CHUNK
) -> PrunedBatch:
    """Delete the batch's final jobs finished before `cutoff` (with their attempts and images'
    rows), `chunk` jobs per transaction, then the batch's row if no job of it is left."""
    jobs = attempts = 0
    while True:
        with engine.begin() as conn:
            chosen, removed_jobs, removed_attempts = _delete_chunk(conn, batch_id, cutoff, chunk)
        jobs += removed_jobs
        attempts += removed_attempts
        if chosen < chunk:
            break
    with engine.begin() as conn:
        gone = conn.execute(
            delete(batches_table).where(
                batches_table.c.id == batch_id,
                batches_table.c.created_at < cutoff,
                ~exists().where(jobs_table.c.batch_id == batch_id),
            )
        ).rowcount
    return PrunedBatch(batch_id, jobs, attempts, complete=gone == 1)


def prune(
    engine: Engine, cutoff: datetime, *, batch_id: str | None = None, chunk: int = CHUNK
) -> list[PrunedBatch]:
    """Prune every prunable batch (or `batch_id` alone, if it is one); returns what went."""
    return [
        prune_batch(engine, found.name, cutoff, chunk=chunk)
        for found in prunable_batches(engine, cutoff, batch_id=batch_id)
    ]


def _in_utc(moment: datetime) -> datetime:
    """`as_utc` of a time that is never null (a batch's creation is not)."""
    aware = as_utc(moment)
    assert aware is not None
    return aware


def _delete_chunk(
    conn: Connection, batch_id: str, cutoff: datetime, chunk: int
) -> tuple[int, int, int]:
    """Delete up to `chunk` prunable jobs of the batch, with their attempts and images' rows;
    returns how many were chosen, and the jobs and attempts deleted.

    Every chosen job is deleted, or is no longer prunable, so no chunk chooses a job twice and
    no cursor is needed. The chosen rows are locked (FOR UPDATE, on PostgreSQL), so a `retry`
    waits for this transaction and then finds them gone; each delete also re-checks the state,
    which on SQLite (one writer at a time, no row locks) covers a `retry` between the select and
    the deletes."""
    prunable = (
        jobs_table.c.state.in_(_FINAL),
        or_(jobs_table.c.finished_at.is_(None), jobs_table.c.finished_at < cutoff),
    )
    chosen = select(jobs_table.c.id).where(jobs_table.c.batch_id == batch_id, *prunable)
    ids = list(conn.execute(chosen.limit(chunk).with_for_update()).scalars().all())
    if not ids:
        return 0, 0, 0
    # found by id alone (the primary key), not by batch: that would read every row left in it
    still_prunable = select(jobs_table.c.id).where(jobs_table.c.id.in_(ids), *prunable)
    conn.execute(delete(job_images_table).where(job_images_table.c.job_id.in_(still_prunable)))
    attempts = conn.execute(
        delete(attempts_table).where(attempts_table.c.job_id.in_(still_prunable))
    ).rowcount
    jobs = conn.execute(delete(jobs_table).where(jobs_table.c.id.in_(ids), *prunable)).rowcount
    return len(ids), jobs, attempts
