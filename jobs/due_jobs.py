"""The jobs that are due, read chunk by chunk, and never from a batch that does not run.

A job is due when its due time has passed, no worker holds it, and its batch runs (or its image
is paid for and only needs storing, whatever the batch's state). Three choices keep this cheap at
a million jobs, where a resume makes every job of a batch due at one instant:

* **Per running batch.** The batches that run and have a job due (one probe each of
  `ix_jobs_batch_due`: batch_id, due_at, id; partial: only rows with a due time), or jobs their
  resume left to send, are read first, from the small `batches` table. Every chunk then reads
  each of those batches through its indexes and the `generated` jobs of the other batches
  through `ix_jobs_batch_state` or the partial `ix_jobs_waiting`. A paused or cancelled batch's
  queued jobs are never read, however many they are: a reaper turn costs nothing for a batch
  that does not run.
* **A resume is one write.** `resume` does not make each waiting job due (a write to a million
  rows, and another to each when it is sent): it records on the batch when it ran
  (`resumed_at`), and the jobs that then waited without a due time are due from that instant,
  read in id order through the partial `ix_jobs_batch_unsent` from `resend_after`, the last of
  them sent, which each chunk moves on (after its messages: a crash costs duplicates, never a
  lost job) and which is cleared once all are sent.
* **Keyset pagination.** Chunks come in (due_at, id) order, and each starts after the last job
  of the one before (`(due_at, id) > (last_due, last_id)`), which the index serves: a chunk reads
  only the rows it returns. `ORDER BY due_at, id LIMIT n` alone read and sorted every remaining
  due row for each chunk, since after a resume every row shares one due time (a million-job
  resume took over two minutes). The order across batches is kept: each batch gives its first
  `n` jobs after the cursor, and the chunk is the first `n` of all of them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    DateTime,
    Integer,
    Select,
    and_,
    any_,
    bindparam,
    case,
    exists,
    literal,
    or_,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY

from jobs.schema import batches_table, jobs_table
from jobs.states import BatchState, JobState

#: states a job waits in for a worker (with a message on the queue, or a due time)
WAITING = (JobState.queued.value, JobState.generated.value)

#: where the last chunk ended: the (due_at, id) of its last job
Cursor = tuple[datetime, int]

#: waiting with no due time and no lease: the predicate of `ix_jobs_batch_unsent`
unsent = and_(
    jobs_table.c.due_at.is_(None),
    jobs_table.c.lease_owner.is_(None),
    jobs_table.c.state.in_(WAITING),
)


@dataclass(frozen=True)
class Sending:
    """A batch that runs and has jobs to send: due ones, or those its last resume left."""

    id: str
    resumed_at: datetime | None
    #: the last job id its resume has sent; None: its resume left none to send
    resend_after: int | None


def running_batches(conn: Connection, *, resumed_before: datetime | None = None) -> list[str]:
    """The batches that run, read from `batches` alone (those last resumed before
    `resumed_before`, when given)."""
    query = select(batches_table.c.id).where(batches_table.c.state == BatchState.active.value)
    if resumed_before is not None:
        query = query.where(
            or_(batches_table.c.resumed_at.is_(None), batches_table.c.resumed_at < resumed_before)
        )
    return list(conn.execute(query).scalars())


def sending_batches(conn: Connection, now: datetime, batch_id: str | None) -> list[Sending]:
    """The batches that run and have a job due by `now` (one index probe each) or jobs their
    resume left to send."""
    has_due = exists().where(
        jobs_table.c.batch_id == batches_table.c.id, jobs_table.c.due_at <= now
    )
    query = select(
        batches_table.c.id, batches_table.c.resumed_at, batches_table.c.resend_after
    ).where(
        batches_table.c.state == BatchState.active.value,
        or_(has_due, batches_table.c.resend_after.is_not(None)),
    )
    if batch_id is not None:
        query = query.where(batches_table.c.id == batch_id)
    return [Sending(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class Chunk:
    """Due jobs read at once, in (due_at, id) order."""

    #: every job of the chunk, in order
    ids: list[int]
    #: those due by their own due time (the others were left by their batch's resume)
    due_ids: list[int]
    #: the last job sent for each resumed batch's resume
    last_resent: dict[Sending, int]
    #: where the chunk ended
    last: Cursor


def due_chunk(
    conn: Connection,
    now: datetime,
    sending: Sequence[Sending],
    *,
    batch_id: str | None,
    after: Cursor | None,
    size: int,
) -> Chunk | None:
    """Up to `size` due jobs after `after`, in (due_at, id) order: those of the `sending`
    batches, and the paid-for (`generated`) ones of the others (of `batch_id` only, when
    given); None when none is left.

    A job a resume left comes back with no due time and the index of its batch in `sending`:
    a time and a name for each of a million rows cost the client more than reading the row."""
    branches = [
        _due(now, after, size).where(jobs_table.c.batch_id == batch.id) for batch in sending
    ]
    branches += [
        resent
        for index, batch in enumerate(sending)
        if (resent := _resent(index, batch, after, size)) is not None
    ]
    ids = [batch.id for batch in sending]
    if batch_id is None or batch_id not in ids:
        paid = _due(now, after, size).where(jobs_table.c.state == JobState.generated.value)
        if batch_id is not None:
            paid = paid.where(jobs_table.c.batch_id == batch_id)
        if ids:
            paid = paid.where(jobs_table.c.batch_id.not_in(ids))
        branches.append(paid)
    if len(branches) == 1:
        query = branches[0]
    else:
        merged = union_all(*(select(b.subquery()) for b in branches)).subquery()
        own_due_at = case((merged.c.resent.is_(None), merged.c.due_at))
        query = (
            select(merged.c.id, own_due_at.label("due_at"), merged.c.resent)
            .order_by(merged.c.due_at, merged.c.id)
            .limit(size)
        )
    rows = conn.execute(query).all()
    if not rows:
        return None
    last_job, last_due_at, last_index = rows[-1]
    last_due = last_due_at if last_index is None else sending[last_index].resumed_at
    return Chunk(
        ids=[row[0] for row in rows],
        due_ids=[row[0] for row in rows if row[2] is None],
        last_resent={sending[row[2]]: row[0] for row in rows if row[2] is not None},
        last=(last_due, last_job),
    )


def mark_sent(conn: Connection, chunk: Chunk, now: datetime) -> None:
    """Record that the chunk's messages were sent at `now`: its due jobs are no longer due, and
    each resumed batch's cursor moves past the jobs sent for its resume.

    A job made due again since `now` (a duplicate message claimed it, and it failed) keeps its
    due time. That test is in the values, not the WHERE, which leaves the planner only the ids
    to find the rows by: given `due_at <= now`, it may walk the due-time index instead, through
    every job still due, for each chunk. On PostgreSQL the ids go as one array parameter: as
    thousands of parameters, rendering and parsing the statement cost the client more than the
    rest of a resume."""
    for batch, last_id in chunk.last_resent.items():
        conn.execute(
            update(batches_table)
            .where(batches_table.c.id == batch.id, batches_table.c.resumed_at == batch.resumed_at)
            .values(resend_after=last_id)
        )
    if not chunk.due_ids:
        return
    sent_now = jobs_table.c.due_at <= now
    if conn.dialect.name == "postgresql":
        chosen = jobs_table.c.id == any_(bindparam("ids", chunk.due_ids, type_=ARRAY(BigInteger)))
    else:
        chosen = jobs_table.c.id.in_(chunk.due_ids)
    conn.execute(
        update(jobs_table)
        .where(chosen)
        .values(
            due_at=case((sent_now, None), else_=jobs_table.c.due_at),
            sent_at=case((sent_now, now), else_=jobs_table.c.sent_at),
        )
    )


def resends_done(conn: Connection, sending: Sequence[Sending]) -> None:
    """Every job the batches' resumes left has been sent: clear their cursors (unless a resume
    ran again since)."""
    for batch in sending:
        if batch.resend_after is not None:
            conn.execute(
                update(batches_table)
                .where(
                    batches_table.c.id == batch.id, batches_table.c.resumed_at == batch.resumed_at
                )
                .values(resend_after=None)
            )


def _due(now: datetime, after: Cursor | None, size: int) -> Select[Any]:
    """Due jobs in (due_at, id) order after `after`, `size` at most."""
    query = (
        select(jobs_table.c.id, jobs_table.c.due_at, literal(None, Integer).label("resent"))
        .where(
            jobs_table.c.due_at <= now,
            jobs_table.c.lease_owner.is_(None),
            jobs_table.c.state.in_(WAITING),
        )
        .order_by(jobs_table.c.due_at, jobs_table.c.id)
        .limit(size)
    )
    if after is not None:
        query = query.where(tuple_(jobs_table.c.due_at, jobs_table.c.id) > after)
    return query


def _resent(index: int, batch: Sending, after: Cursor | None, size: int) -> Select[Any] | None:
    """The jobs the batch's resume left to send, due at `resumed_at`, in id order after
    `after`, `size` at most, marked with `index`; None when there are none left (or the cursor
    is past them).

    Which jobs those are is not decided by comparing times: clocks of the hosts that wrote them
    may differ. A job that waits without a due time is sent, and one whose message also went
    out otherwise meanwhile (made due and sent) gets a duplicate, which its claim refuses."""
    if batch.resend_after is None or batch.resumed_at is None:
        return None
    after_id = batch.resend_after
    if after is not None:
        if after[0] > batch.resumed_at:
            return None
        if after[0] == batch.resumed_at:
            after_id = max(after_id, after[1])
    resumed_at = literal(batch.resumed_at, DateTime(timezone=True))
    return (
        select(jobs_table.c.id, resumed_at.label("due_at"), literal(index, Integer).label("resent"))
        .where(jobs_table.c.batch_id == batch.id, jobs_table.c.id > after_id, unsent)
        .order_by(jobs_table.c.id)
        .limit(size)
    )
