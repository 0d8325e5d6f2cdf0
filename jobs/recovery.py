"""Finding in the table what the queue does not hold, and the user's commands that change a batch.

The queue is only a transport (docs/design.md): the table is the queue of record, and the
dispatcher sends what is due (jobs.dispatch). What the broker loses is found here:

* `recover_expired_leases`: jobs whose holder stopped renewing its lease (killed, crashed): the
  attempt is closed as `worker_lost` and the job waits again, due at once (or fails, if that was
  its last attempt).
* `make_unclaimed_due`: once the queue has drained, a job still waiting long after its message
  was sent has lost that message (a killed worker had taken it: Redis would only give it back
  after its hour-long visibility timeout, or never, if the worker died between taking it and
  recording it as unacknowledged). It is made due, and sent again.
* `pause`, `resume`, `retry`, `cancel`: stop a batch's dispatch, make its jobs due again, reopen
  failed ones, stop queued ones.
"""

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, or_, select, update

from jobs.database import utcnow
from jobs.due_jobs import WAITING, make_due, unclaimed_ids
from jobs.errors import ErrorClass
from jobs.failure_policy import FailedAttempt, decide_failure
from jobs.records import Share
from jobs.redaction import redact
from jobs.schema import attempts_table, batches_table, jobs_table
from jobs.states import BatchState, JobState

#: jobs read per statement
CHUNK = 5000
#: why a batch paused by a person waits (`seedream-batch pause`)
PAUSED_BY_USER = "paused by `seedream-batch pause`; `seedream-batch resume` carries on"
#: a batch that runs again is no longer paused, and its next pause or completion is news again
#: (its kept figures go too: jobs.kept_summaries)
_RUNS_AGAIN = {"paused_reason": None, "notified": None, "final_summary": None}


class JobRecovery:
    """The recovery side of `jobs.results.ResultsTable`."""

    engine: Engine

    def recover_expired_leases(
        self,
        max_attempts: int,
        *,
        batch_id: str | None = None,
        holder_is_dead: Callable[[str], bool] | None = None,
    ) -> list[JobState]:
        """Put back every job whose lease has expired, of `batch_id` or of every batch, and
        every one whose holder `holder_is_dead` says is dead, expired or not; returns the state
        each was left in (the final ones are what the worker that died never reported).
        """
        now = utcnow()
        expired = jobs_table.c.lease_expires_at < now
        query = (
            select(
                jobs_table.c.id,
                jobs_table.c.state,
                jobs_table.c.attempts,
                jobs_table.c.free_attempts,
                jobs_table.c.lease_owner,
                expired.label("expired"),
                batches_table.c.state.label("batch_state"),
            )
            .join(batches_table, batches_table.c.id == jobs_table.c.batch_id)
            .where(jobs_table.c.lease_owner.is_not(None))
            .limit(CHUNK)
        )
        if holder_is_dead is None:
            query = query.where(expired)
        if batch_id is not None:
            query = query.where(jobs_table.c.batch_id == batch_id)
        recovered = []
        with self.engine.begin() as conn:
            for row in conn.execute(query).all():
                if row.expired or (holder_is_dead is not None and holder_is_dead(row.lease_owner)):
                    if (state := _put_back(conn, row, max_attempts, now)) is not None:
                        recovered.append(state)
        return recovered

    def make_unclaimed_due(self, older_than_s: float) -> int:
        """Make due every waiting job whose message was sent over `older_than_s` ago and that
        no worker has claimed since; call it only when the queue is empty, so that such a job's
        message can only be lost or held by a worker (a copy then costs a refused claim).
        Returns how many.

        Such jobs are read through the partial `ix_jobs_batch_unsent` (as many rows as the
        dispatcher's window), of the batches that run, and the paid-for ones of any batch: a
        paused batch's are made due by its `resume`."""
        now = utcnow()
        sent_before = now - timedelta(seconds=older_than_s)
        running = select(batches_table.c.id).where(batches_table.c.state == BatchState.active.value)
        lost = (
            func.coalesce(jobs_table.c.sent_at, jobs_table.c.created_at) < sent_before,
            or_(
                jobs_table.c.batch_id.in_(running.scalar_subquery()),
                jobs_table.c.state == JobState.generated.value,
            ),
        )
        with self.engine.begin() as conn:
            return make_due(conn, unclaimed_ids(conn, *lost, size=CHUNK), now)

    def pause(self, batch_id: str, reason: str = PAUSED_BY_USER) -> bool:
        """Stop dispatching the batch's jobs: running ones finish, paid-for ones are still
        stored, and the rest wait in the table until `resume`. Returns False when the batch is
        not running (already paused, or cancelled: a cancelled batch stays cancelled)."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    update(batches_table)
                    .where(
                        batches_table.c.id == batch_id,
                        batches_table.c.state == BatchState.active.value,
                    )
                    .values(state=BatchState.paused.value, paused_reason=reason)
                ).rowcount
            )

    def resume(
        self,
        batch_id: str,
        *,
        max_images: int | None = None,
        max_cost: float | None = None,
        share: Share | None = None,
    ) -> int:
        """Make the batch run again (with a new budget or share, when given); returns how many
        of its jobs wait to run. Its jobs waiting in the table are dispatched in its turn;
        those sent and not claimed (refused while it was paused, or lost with the queue) are
        made due again (a window's worth at most: `ix_jobs_batch_unsent`).

        A job with a due time still ahead keeps it. A job under a live lease is running and is
        left alone.
        """
        values: dict[str, Any] = {"state": BatchState.active.value, **_RUNS_AGAIN}
        if max_images is not None:
            values["max_images"] = max_images
        if max_cost is not None:
            values["max_cost"] = max_cost
        if share is not None:
            values |= {"weight": share.weight, "max_in_flight": share.max_in_flight}
        now = utcnow()
        waiting = select(func.count()).where(
            jobs_table.c.batch_id == batch_id,
            jobs_table.c.state.in_(WAITING),
            jobs_table.c.lease_owner.is_(None),
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(batches_table).where(batches_table.c.id == batch_id).values(**values)
            )
            # a message lost with the queue is sent again; one still on it costs a refused claim
            of_batch = jobs_table.c.batch_id == batch_id
            while make_due(conn, unclaimed_ids(conn, of_batch, size=CHUNK), now):
                pass
            return int(conn.execute(waiting).scalar_one())

    def retry(
        self,
        batch_id: str,
        *,
        classes: Iterable[ErrorClass] = (),
        keys: Iterable[str] = (),
    ) -> int:
        """Reopen the batch's failed jobs (only those of `classes`, or with `keys`, when given)
        with a fresh attempt limit, due now; returns how many. A job whose image was paid for
        resumes at the upload, unless it failed as `bad_image`: that image is worthless, and
        the job calls the API again. The batch runs again if it was paused or cancelled."""
        chosen = [jobs_table.c.batch_id == batch_id, jobs_table.c.state == JobState.failed.value]
        if classes:
            chosen.append(jobs_table.c.error_class.in_([c.value for c in classes]))
        key_list = list(keys)
        if key_list:
            chosen.append(jobs_table.c.key.in_(key_list))
        has_image = and_(
            or_(jobs_table.c.provider_url.is_not(None), jobs_table.c.inline_image.is_not(None)),
            jobs_table.c.error_class != ErrorClass.bad_image.value,
        )
        now = utcnow()
        with self.engine.begin() as conn:
            reopened = conn.execute(
                update(jobs_table)
                .where(*chosen)
                .values(
                    state=case((has_image, JobState.generated.value), else_=JobState.queued.value),
                    provider_url=case((has_image, jobs_table.c.provider_url), else_=None),
                    inline_image=case((has_image, jobs_table.c.inline_image), else_=None),
                    free_attempts=jobs_table.c.attempts,
                    due_at=now,
                    finished_at=None,
                    updated_at=now,
                )
            )
            if reopened.rowcount:
                conn.execute(
                    update(batches_table)
                    .where(batches_table.c.id == batch_id)
                    .values(state=BatchState.active.value, **_RUNS_AGAIN)
                )
        return reopened.rowcount

    def cancel(self, batch_id: str) -> int:
        """Cancel the batch: its queued jobs (waiting for a retry or not) are cancelled, running
        ones finish, and generated ones are still stored (they are paid for). Returns how many
        were cancelled."""
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(
                update(batches_table)
                .where(batches_table.c.id == batch_id)
                .values(state=BatchState.cancelled.value, paused_reason=None)
            )
            result = conn.execute(
                update(jobs_table)
                .where(
                    jobs_table.c.batch_id == batch_id, jobs_table.c.state == JobState.queued.value
                )
                .values(
                    state=JobState.cancelled.value, due_at=None, updated_at=now, finished_at=now
                )
            )
        return result.rowcount

    def jobs_of_batch(self, batch_id: str, job_ids: list[int]) -> set[int]:
        """Those of `job_ids` that are jobs of the batch."""
        if not job_ids:
            return set()
        query = select(jobs_table.c.id).where(
            jobs_table.c.batch_id == batch_id, jobs_table.c.id.in_(job_ids)
        )
        with self.engine.connect() as conn:
            return set(conn.execute(query).scalars())

    def keys_in_state(self, batch_id: str, keys: Iterable[str]) -> dict[str, JobState]:
        """The state of each of `keys` that the batch has (a key it lacks is left out)."""
        query = select(jobs_table.c.key, jobs_table.c.state).where(
            jobs_table.c.batch_id == batch_id, jobs_table.c.key.in_(list(keys))
        )
        with self.engine.connect() as conn:
            return {key: JobState(state) for key, state in conn.execute(query)}


def _put_back(conn: Connection, row: Any, max_attempts: int, now: datetime) -> JobState | None:
    """One job whose holder is gone: close its attempt as `worker_lost`, and do with the job what
    `jobs.failure_policy` decides (a retry is due at once: a dead worker says nothing about the
    provider); returns its new state, or None when another process got there first."""
    paid = row.state == JobState.generated.value
    failed = FailedAttempt(
        error_class=ErrorClass.worker_lost,
        retryable=True,
        counted_attempts=row.attempts - row.free_attempts,
        paid=paid,
        batch_cancelled=row.batch_state == BatchState.cancelled.value,
    )
    state = decide_failure(failed, max_attempts=max_attempts, retry_in=0).state
    stage = "while storing its image" if paid else "before it had an image"
    message = redact(f"worker {row.lease_owner} stopped {stage} (its lease expired)")
    moved = conn.execute(
        update(jobs_table)
        .where(jobs_table.c.id == row.id, jobs_table.c.lease_owner == row.lease_owner)
        .values(
            state=state.value,
            lease_owner=None,
            lease_expires_at=None,
            due_at=None if state.terminal else now,
            error_class=ErrorClass.worker_lost.value,
            error_message=message,
            finished_at=now if state.terminal else None,
            updated_at=now,
        )
    )
    if moved.rowcount != 1:
        return None
    conn.execute(
        update(attempts_table)
        .where(
            attempts_table.c.job_id == row.id,
            attempts_table.c.number == row.attempts,
            attempts_table.c.finished_at.is_(None),
        )
        .values(finished_at=now, error_class=ErrorClass.worker_lost.value, error_message=message)
    )
    return state
