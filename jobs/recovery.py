"""Finding in the table what the queue does not hold, and the user's commands that change a batch.

The queue is only a transport (docs/design.md): a job waiting for a retry has no message
until it is due, a job whose worker died has a message nobody will finish, and Redis may lose
everything. All of it is found here, from the table:

* `recover_expired_leases`: jobs whose holder stopped renewing its lease (killed, crashed): the
  attempt is closed as `worker_lost` and the job waits again, due at once (or fails, if that was
  its last attempt).
* `enqueue_due`: every job whose due time has come gets its message, then loses its due time
  (the jobs a resume made due move their batch's cursor instead, see `jobs.due_jobs`). The
  message goes first: a crash in between costs a duplicate message (harmless: the claim
  refuses it), never a lost job.
* `make_unclaimed_due`: once the queue has drained, a job still waiting long after its message
  was sent has lost that message (a killed worker had taken it: Redis would only give it back
  after its hour-long visibility timeout, or never, if the worker died between taking it and
  recording it as unacknowledged). It is made due, and sent again.
* `resume`, `retry`, `cancel`: make jobs due again, reopen failed ones, stop queued ones.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, or_, select, update

from jobs.database import utcnow
from jobs.due_jobs import (
    WAITING,
    Cursor,
    due_chunk,
    mark_sent,
    resends_done,
    running_batches,
    sending_batches,
)
from jobs.errors import ErrorClass
from jobs.failure_policy import FailedAttempt, decide_failure
from jobs.redaction import redact
from jobs.schema import attempts_table, batches_table, jobs_table
from jobs.states import BatchState, JobState

Enqueue = Callable[[Sequence[int]], None]

#: jobs made due, or enqueued, per statement
CHUNK = 5000
#: a batch that runs again is no longer paused, and its next pause or completion is news again
_RUNS_AGAIN = {"paused_reason": None, "notified": None}


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

    def enqueue_due(
        self, enqueue: Enqueue, *, batch_id: str | None = None, limit: int | None = None
    ) -> int:
        """Send a message for every job that is due (of `batch_id`, or of every batch), up to
        `limit`; returns how many were sent. A job is due when its due time has passed, it is
        not leased, and its batch runs (or its image is paid for and only needs storing).

        Chunks are read by keyset, and only from batches that run (`jobs.due_jobs` says why),
        so sending a million jobs reads each once and a paused batch is not read at all."""
        now = utcnow()
        with self.engine.connect() as conn:
            sending = sending_batches(conn, now, batch_id)
        sent = 0
        after: Cursor | None = None
        while limit is None or sent < limit:
            size = CHUNK if limit is None else min(CHUNK, limit - sent)
            with self.engine.connect() as conn:
                due = due_chunk(conn, now, sending, batch_id=batch_id, after=after, size=size)
            if due is None:
                with self.engine.begin() as conn:
                    resends_done(conn, sending)
                break
            enqueue(due.ids)
            with self.engine.begin() as conn:
                mark_sent(conn, due, now)
            sent += len(due.ids)
            after = due.last
        return sent

    def make_unclaimed_due(self, older_than_s: float) -> int:
        """Make due every waiting job whose message was sent over `older_than_s` ago and that
        no worker has claimed since; call it only when the queue is empty, so that such a job's
        message can only be lost or held by a worker (a copy then costs a refused claim).
        Returns how many.

        Only the batches that run are read (through `ix_jobs_batch_state`), and the paid-for
        jobs of the others (through `ix_jobs_waiting`): a paused batch's queued jobs cost a turn
        nothing, however many they are."""
        now = utcnow()
        sent_before = now - timedelta(seconds=older_than_s)
        unclaimed = and_(
            jobs_table.c.state.in_(WAITING),
            jobs_table.c.due_at.is_(None),
            jobs_table.c.lease_owner.is_(None),
            func.coalesce(jobs_table.c.sent_at, jobs_table.c.created_at) < sent_before,
        )
        made_due = 0
        with self.engine.begin() as conn:
            # a resume sent its batch's jobs at once, without a write to each
            running = running_batches(conn, resumed_before=sent_before)
            if running:
                made_due += conn.execute(
                    update(jobs_table)
                    .where(jobs_table.c.batch_id.in_(running), unclaimed)
                    .values(due_at=now)
                ).rowcount
            # a running batch's paid-for jobs were made due just above: they are not counted twice
            made_due += conn.execute(
                update(jobs_table)
                .where(jobs_table.c.state == JobState.generated.value, unclaimed)
                .values(due_at=now)
            ).rowcount
        return made_due

    def resume(
        self,
        batch_id: str,
        *,
        max_images: int | None = None,
        max_cost: float | None = None,
    ) -> int:
        """Make the batch run again (with a new budget, when given) and every job of it that
        waits without a due time due now; returns how many jobs are due. That is one write, to
        the batch's row, whatever its size (`jobs.due_jobs`).

        A job with a due time still ahead keeps it; the reaper enqueues it then. A job under a
        live lease is running and is left alone.
        """
        values: dict[str, Any] = {"state": BatchState.active.value, **_RUNS_AGAIN}
        if max_images is not None:
            values["max_images"] = max_images
        if max_cost is not None:
            values["max_cost"] = max_cost
        now = utcnow()
        values |= {"resumed_at": now, "resend_after": 0}
        waiting = select(func.count()).where(
            jobs_table.c.batch_id == batch_id,
            jobs_table.c.state.in_(WAITING),
            jobs_table.c.lease_owner.is_(None),
            or_(jobs_table.c.due_at.is_(None), jobs_table.c.due_at < now),
        )
        with self.engine.begin() as conn:
            conn.execute(
                update(batches_table).where(batches_table.c.id == batch_id).values(**values)
            )
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
