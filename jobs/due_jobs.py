"""The jobs that are due, read chunk by chunk, and never from a batch that does not run.

A job is due when its due time has passed, no worker holds it, and its batch runs (or its image
is paid for and only needs storing, whatever the batch's state). Two choices keep this cheap at
a million jobs, where a resume makes every job of a batch due at one instant:

* **Per running batch.** The batches that run and have a job due are read first, from the small
  `batches` table, each with one probe of `ix_jobs_batch_due` (batch_id, due_at, id; partial:
  only rows with a due time). Every chunk then reads each of those batches through that index
  and the `generated` jobs of the other batches through `ix_jobs_batch_state` or the partial
  `ix_jobs_waiting`. A paused or cancelled batch's queued jobs are never read, however many
  carry a due time: a reaper turn costs nothing for a batch that does not run.
* **Keyset pagination.** Chunks come in (due_at, id) order, and each starts after the last job
  of the one before (`(due_at, id) > (last_due, last_id)`), which the index serves: a chunk reads
  only the rows it returns. `ORDER BY due_at, id LIMIT n` alone read and sorted every remaining
  due row for each chunk, since after a resume every row shares one due time (a million-job
  resume took over two minutes). The order across batches is kept: each batch gives its first
  `n` jobs after the cursor, and the chunk is the first `n` of all of them.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    any_,
    bindparam,
    case,
    exists,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from jobs.schema import batches, jobs
from jobs.states import BatchState, JobState

#: states a job waits in for a worker (with a message on the queue, or a due time)
WAITING = (JobState.queued.value, JobState.generated.value)

#: where the last chunk ended: the (due_at, id) of its last job
Cursor = tuple[datetime, int]


def running_batches(conn: Connection, batch_id: str | None = None) -> list[str]:
    """The batches that run (all, or `batch_id` if it runs), read from `batches` alone."""
    return list(conn.execute(_running(batch_id)).scalars())


def running_with_due_jobs(conn: Connection, now: datetime, batch_id: str | None) -> list[str]:
    """The batches that run and have a job due by `now` (one index probe each)."""
    has_due = exists().where(jobs.c.batch_id == batches.c.id, jobs.c.due_at <= now)
    return list(conn.execute(_running(batch_id).where(has_due)).scalars())


def due_chunk(
    conn: Connection,
    now: datetime,
    running: Sequence[str],
    *,
    batch_id: str | None,
    after: Cursor | None,
    size: int,
) -> list[Any]:
    """Up to `size` due jobs (id, due_at) after `after`, in (due_at, id) order: those of the
    `running` batches, and the paid-for (`generated`) ones of the others (of `batch_id` only,
    when given)."""
    branches = [_due(now, after, size).where(jobs.c.batch_id == run) for run in running]
    if batch_id is None or batch_id not in running:
        paid = _due(now, after, size).where(jobs.c.state == JobState.generated.value)
        if batch_id is not None:
            paid = paid.where(jobs.c.batch_id == batch_id)
        if running:
            paid = paid.where(jobs.c.batch_id.not_in(running))
        branches.append(paid)
    if len(branches) == 1:
        return list(conn.execute(branches[0]).all())
    merged = union_all(*(select(b.subquery()) for b in branches)).subquery()
    query = select(merged).order_by(merged.c.due_at, merged.c.id).limit(size)
    return list(conn.execute(query).all())


def mark_sent(conn: Connection, job_ids: Sequence[int], now: datetime) -> None:
    """Record that the jobs' messages were sent at `now`: they are no longer due.

    A job made due again since `now` (a duplicate message claimed it, and it failed) keeps its
    due time. That test is in the values, not the WHERE, which leaves the planner only the ids
    to find the rows by: given `due_at <= now`, it may walk the due-time index instead, through
    every job still due, for each chunk. On PostgreSQL the ids go as one array parameter: as
    thousands of parameters, rendering and parsing the statement cost the client more than the
    rest of a resume."""
    sent_now = jobs.c.due_at <= now
    if conn.dialect.name == "postgresql":
        chosen = jobs.c.id == any_(bindparam("ids", list(job_ids), type_=ARRAY(BigInteger)))
    else:
        chosen = jobs.c.id.in_(job_ids)
    conn.execute(
        update(jobs)
        .where(chosen)
        .values(
            due_at=case((sent_now, None), else_=jobs.c.due_at),
            sent_at=case((sent_now, now), else_=jobs.c.sent_at),
        )
    )


def _running(batch_id: str | None) -> Select[Any]:
    query = select(batches.c.id).where(batches.c.state == BatchState.active.value)
    return query if batch_id is None else query.where(batches.c.id == batch_id)


def _due(now: datetime, after: Cursor | None, size: int) -> Select[Any]:
    """Due jobs in (due_at, id) order after `after`, `size` at most."""
    query = (
        select(jobs.c.id, jobs.c.due_at)
        .where(jobs.c.due_at <= now, jobs.c.lease_owner.is_(None), jobs.c.state.in_(WAITING))
        .order_by(jobs.c.due_at, jobs.c.id)
        .limit(size)
    )
    if after is not None:
        query = query.where(tuple_(jobs.c.due_at, jobs.c.id) > after)
    return query
