"""The queue of record: what the dispatcher reads from the table to choose the jobs it sends.

A job waits in the table with a due time until the dispatcher (worker.dispatcher) sends its
message; sending clears the due time and stamps `sent_at`. Every read here goes through an index
made for it, so a turn costs the same whether the table holds ten thousand finished jobs or ten
million:

* **Contenders**: the batches that run and have a job due, read from the small `batches` table
  with one probe each of `ix_jobs_batch_due` (batch_id, due_at, id; partial: only rows with a due
  time, so finished jobs are not in it).
* **A batch's next jobs**: the front of that same index, `LIMIT n`. Sent jobs leave the index,
  so the next turn starts at the new front without a cursor.
* **Paid-for jobs** (`generated`: the image is paid for and only needs storing) are sent
  whatever their batch's state, through the partial `ix_jobs_waiting` (few rows are `generated`).
* **Out**: messages sent and not yet claimed, per batch (`ix_jobs_batch_unsent`, partial), and
  jobs under a lease (`ix_jobs_lease`, partial): both as small as the fleet's threads.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Connection,
    and_,
    any_,
    bindparam,
    case,
    exists,
    func,
    select,
)
from sqlalchemy import update as sql_update
from sqlalchemy.dialects.postgresql import ARRAY

from jobs.schema import batches_table, jobs_table
from jobs.states import BatchState, JobState

#: states a job waits in for a worker (with a message on the queue, or a due time)
WAITING = (JobState.queued.value, JobState.generated.value)

#: sent and not yet claimed: the predicate of `ix_jobs_batch_unsent`
unsent = and_(
    jobs_table.c.due_at.is_(None),
    jobs_table.c.lease_owner.is_(None),
    jobs_table.c.state.in_(WAITING),
)


@dataclass(frozen=True)
class Contender:
    """A batch that runs and has a job due: it competes for the fleet by its weight."""

    id: str
    weight: float
    #: the most of its jobs out (sent or running) at once; None: no cap
    max_in_flight: int | None


@dataclass(frozen=True)
class Outstanding:
    """Jobs out of the table's hands, per batch: messages not yet claimed, and jobs running."""

    unclaimed: dict[str, int]
    leased: dict[str, int]

    def of(self, batch_id: str) -> int:
        """The batch's jobs sent or running: what its cap on calls in flight counts."""
        return self.unclaimed.get(batch_id, 0) + self.leased.get(batch_id, 0)


def contenders(conn: Connection, now: datetime) -> list[Contender]:
    """The batches that run and have a job due by `now`, in name order."""
    has_due = exists().where(
        jobs_table.c.batch_id == batches_table.c.id,
        jobs_table.c.due_at <= now,
    )
    query = (
        select(batches_table.c.id, batches_table.c.weight, batches_table.c.max_in_flight)
        .where(batches_table.c.state == BatchState.active.value, has_due)
        .order_by(batches_table.c.id)
    )
    return [Contender(*row) for row in conn.execute(query)]


def outstanding(conn: Connection) -> Outstanding:
    """Every batch's messages sent and unclaimed, and its jobs under a lease."""
    unclaimed = (
        select(jobs_table.c.batch_id, func.count()).where(unsent).group_by(jobs_table.c.batch_id)
    )
    leased = (
        select(jobs_table.c.batch_id, func.count())
        .where(jobs_table.c.lease_expires_at.is_not(None))
        .group_by(jobs_table.c.batch_id)
    )
    return Outstanding(
        {batch: int(count) for batch, count in conn.execute(unclaimed)},
        {batch: int(count) for batch, count in conn.execute(leased)},
    )


def unclaimed_ids(conn: Connection, *conditions: ColumnElement[bool], size: int) -> list[int]:
    """Up to `size` jobs sent and not claimed (and meeting `conditions`), read in the order of
    `ix_jobs_batch_unsent`. The order is what makes the index the plan: PostgreSQL estimates the
    unsent rows as a fraction of the table (its columns' statistics are independent), and for
    an UPDATE over that predicate alone it scanned all ten million rows of a table holding a
    thousand such jobs."""
    query = (
        select(jobs_table.c.id)
        .where(unsent, *conditions)
        .order_by(jobs_table.c.batch_id, jobs_table.c.id)
        .limit(size)
    )
    return list(conn.execute(query).scalars())


def make_due(conn: Connection, ids: Sequence[int], now: datetime) -> int:
    """Make these unclaimed jobs due at `now` (those still unclaimed); returns how many."""
    if not ids:
        return 0
    return int(
        conn.execute(
            sql_update(jobs_table).where(_ids(conn, ids), unsent).values(due_at=now)
        ).rowcount
    )


def active_unclaimed(conn: Connection, counts: Outstanding) -> int:
    """Messages out and unclaimed that a worker will run: those of batches that run. A paused
    batch's (its workers refuse them, and `resume` makes them due again) do not fill the window."""
    stopped = set(
        conn.execute(
            select(batches_table.c.id).where(
                batches_table.c.id.in_(list(counts.unclaimed)),
                batches_table.c.state != BatchState.active.value,
            )
        ).scalars()
    )
    return sum(n for batch, n in counts.unclaimed.items() if batch not in stopped)


def due_of_batch(conn: Connection, batch_id: str, now: datetime, size: int) -> list[int]:
    """Up to `size` of the batch's due jobs to generate, the longest due first (then in
    manifest order); its paid-for ones are `paid_due`'s."""
    query = (
        select(jobs_table.c.id)
        .where(
            jobs_table.c.batch_id == batch_id,
            jobs_table.c.due_at <= now,
            jobs_table.c.lease_owner.is_(None),
            jobs_table.c.state == JobState.queued.value,
        )
        .order_by(jobs_table.c.due_at, jobs_table.c.id)
        .limit(size)
    )
    return list(conn.execute(query).scalars())


def paid_due(conn: Connection, now: datetime, size: int) -> list[int]:
    """Up to `size` due jobs whose image is paid for and only needs storing, of any batch:
    stored whatever the batch's state or share, as they cost no call."""
    query = (
        select(jobs_table.c.id)
        .where(
            jobs_table.c.state == JobState.generated.value,
            jobs_table.c.due_at <= now,
            jobs_table.c.lease_owner.is_(None),
        )
        .order_by(jobs_table.c.due_at, jobs_table.c.id)
        .limit(size)
    )
    return list(conn.execute(query).scalars())


def mark_sent(conn: Connection, ids: Sequence[int], now: datetime) -> None:
    """Record that the jobs' messages were sent at `now`: they are no longer due.

    A job made due again since `now` (a duplicate message claimed it, and it failed) keeps its
    due time. That test is in the values, not the WHERE, which leaves the planner only the ids
    to find the rows by. On PostgreSQL the ids go as one array parameter: as thousands of
    parameters, rendering and parsing the statement cost the client more than the rest."""
    if not ids:
        return
    sent_now = jobs_table.c.due_at <= now
    conn.execute(
        sql_update(jobs_table)
        .where(_ids(conn, ids))
        .values(
            due_at=case((sent_now, None), else_=jobs_table.c.due_at),
            sent_at=case((sent_now, now), else_=jobs_table.c.sent_at),
        )
    )


def _ids(conn: Connection, ids: Sequence[int]) -> ColumnElement[bool]:
    """`id` is one of `ids`: on PostgreSQL one array parameter, whatever their number."""
    if conn.dialect.name == "postgresql":
        return jobs_table.c.id == any_(bindparam("ids", list(ids), type_=ARRAY(BigInteger)))
    return jobs_table.c.id.in_(list(ids))
