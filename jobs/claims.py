"""A worker's writes to the results table: claim a job, record each step, let go of it.

A worker *claims* a job with one conditional UPDATE on its state, its lease and its due time, so
a message delivered twice, or early, can never make a second API call; every later write names
the lease owner, so a worker that lost its lease cannot overwrite the job's next holder. The
claim also takes the image from the batch's budget, in the same transaction, so a fleet of any
size can never pay for more than the budget allows.
"""

from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, or_, select, update

from jobs.database import utcnow
from jobs.errors import JobError
from jobs.failure_policy import Decision, FailedAttempt, decide_failure
from jobs.job_path_statements import (
    ATTEMPT,
    CLAIM_AT_ONCE,
    CLAIMED_JOB_COLUMNS,
    CLOSE_ATTEMPT_SUCCEEDED,
    GENERATED_API_MS,
    GENERATED_COST,
    GENERATED_IMAGE,
    GENERATED_URL,
    JOB,
    LEASE_UNTIL,
    MARK_STARTED,
    NOW,
    OWNER,
    RECORD_GENERATED,
    RECORD_SUCCEEDED,
    RECORD_SUCCEEDED_AT_ONCE,
    STARTED_BATCH,
    STORED_FETCH_MS,
    STORED_HEIGHT,
    STORED_SHA256,
    STORED_SIZE,
    STORED_STORE_MS,
    STORED_URI,
    STORED_WIDTH,
)
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.records import Batch, Claim, StoredImage
from jobs.redaction import redact
from jobs.schema import attempts_table, batches_table, jobs_table
from jobs.states import BatchState, JobState
from jobs.wording import clauses, counted


class _BudgetSpent(Exception):
    """Raised inside a claim's transaction to undo it: the batch may not pay for another image."""


class JobClaims:
    """The worker side of `jobs.results.ResultsTable`."""

    engine: Engine

    @cached_property
    def _autocommit(self) -> Engine:
        """The engine with each statement committed on its own, for the writes that are one
        statement: no BEGIN and COMMIT round trips around them."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @property
    def _writes_at_once(self) -> bool:
        """Whether a job and its attempt row are written in one statement (PostgreSQL's
        data-modifying CTEs; see jobs.job_path_statements)."""
        return self.engine.dialect.name == "postgresql"

    def claim(self, job_id: int, owner: str, lease_seconds: float) -> Claim | None:
        """Take the job for `owner`, or None: it is final, leased, not due yet, taken meanwhile,
        or its batch does not run (paused or cancelled; a generated job is stored whatever the
        batch's state, as its image is paid for). A claim that would pass the batch's budget
        pauses the batch instead."""
        now = utcnow()
        lease_until = now + timedelta(seconds=lease_seconds)
        if self._writes_at_once:
            claim = self._claim_at_once(job_id, owner, now, lease_until)
            if claim is not None:
                return claim
        return self._claim_checked(job_id, owner, now, lease_until)

    def _claim_at_once(
        self, job_id: int, owner: str, now: datetime, lease_until: datetime
    ) -> Claim | None:
        """The usual claim in one round trip, or None when it is not the usual one."""
        with self._autocommit.connect() as conn:
            held = {JOB.key: job_id, OWNER.key: owner, NOW.key: now, LEASE_UNTIL.key: lease_until}
            row = conn.execute(CLAIM_AT_ONCE, held).one_or_none()
            if row is None:
                return None
            batch = Batch.from_row(row._mapping)
            if batch.started_at is None:
                conn.execute(MARK_STARTED, {STARTED_BATCH.key: batch.id, NOW.key: now})
        return _claim_of(row, batch, attempt=row.attempts, budgeted=False)

    def _claim_checked(
        self, job_id: int, owner: str, now: datetime, lease_until: datetime
    ) -> Claim | None:
        """The claim with every case told apart, in a transaction: the one that takes from a
        budget, and the one that says why a job cannot be claimed."""
        query = (
            select(
                jobs_table.c.id.label("job_id"),
                jobs_table.c.state.label("job_state"),
                *CLAIMED_JOB_COLUMNS,
                batches_table,
            )
            .join(batches_table, batches_table.c.id == jobs_table.c.batch_id)
            .where(jobs_table.c.id == job_id)
        )
        try:
            with self.engine.begin() as conn:
                row = conn.execute(query).one_or_none()
                if row is None or JobState(row.job_state).terminal:
                    return None
                batch = Batch.from_row(row._mapping)
                observed = JobState(row.job_state)
                paid = observed is JobState.generated
                if not paid and batch.state is not BatchState.active:
                    return None
                taken = conn.execute(
                    update(jobs_table)
                    .where(
                        jobs_table.c.id == job_id,
                        jobs_table.c.state == observed.value,
                        jobs_table.c.lease_owner.is_(None),
                        or_(jobs_table.c.due_at.is_(None), jobs_table.c.due_at <= now),
                    )
                    .values(
                        # a generated job keeps its state: the claim is for the upload only
                        state=JobState.generated.value if paid else JobState.running.value,
                        lease_owner=owner,
                        lease_expires_at=lease_until,
                        due_at=None,
                        attempts=jobs_table.c.attempts + 1,
                        updated_at=now,
                    )
                )
                if taken.rowcount != 1:
                    return None
                if batch.started_at is None:
                    conn.execute(MARK_STARTED, {STARTED_BATCH.key: batch.id, NOW.key: now})
                budgeted = not paid and batch.image_cap is not None
                if budgeted and not _take_from_budget(conn, batch):
                    raise _BudgetSpent
                number = row.attempts + 1
                conn.execute(
                    insert(attempts_table).values(
                        job_id=job_id, number=number, worker=owner, started_at=now
                    )
                )
        except _BudgetSpent:
            self._pause_for_budget(batch)
            return None
        return _claim_of(row, batch, attempt=number, budgeted=budgeted)

    def record_generated(
        self,
        claim: Claim,
        owner: str,
        *,
        provider_url: str | None,
        inline_image: bytes | None,
        api_ms: int,
    ) -> None:
        """The provider returned an image: from here on a crash resumes at the upload, with the
        URL (or the inline bytes) kept on the row, and the API is never called again."""
        with self._autocommit.connect() as conn:
            conn.execute(
                RECORD_GENERATED,
                {
                    JOB.key: claim.job_id,
                    OWNER.key: owner,
                    NOW.key: utcnow(),
                    GENERATED_URL.key: provider_url,
                    GENERATED_IMAGE.key: inline_image,
                    GENERATED_API_MS.key: api_ms,
                    GENERATED_COST.key: claim.batch.price_per_image,
                },
            )

    def record_succeeded(self, claim: Claim, owner: str, stored: StoredImage) -> None:
        """The image is stored: the job and its attempt are closed in one transaction, and the
        provider's URL (signed: a credential while it lasts) and inline bytes are dropped."""
        written = {
            JOB.key: claim.job_id,
            OWNER.key: owner,
            ATTEMPT.key: claim.attempt,
            NOW.key: utcnow(),
            STORED_URI.key: stored.output_uri,
            STORED_SIZE.key: stored.size,
            STORED_SHA256.key: stored.sha256,
            STORED_WIDTH.key: stored.width,
            STORED_HEIGHT.key: stored.height,
            STORED_FETCH_MS.key: stored.fetch_ms,
            STORED_STORE_MS.key: stored.store_ms,
        }
        if self._writes_at_once:
            with self._autocommit.connect() as conn:
                conn.execute(RECORD_SUCCEEDED_AT_ONCE, written)
            return
        with self.engine.begin() as conn:
            if conn.execute(RECORD_SUCCEEDED, written).rowcount == 1:
                conn.execute(CLOSE_ATTEMPT_SUCCEEDED, written)

    def record_failure(
        self, claim: Claim, owner: str, error: JobError, max_attempts: int, retry_in: float
    ) -> Decision:
        """Record the attempt's error and what `jobs.failure_policy` decides comes next (the job
        waits `retry_in` seconds when it is retried; the reaper enqueues it then).

        Whether the image is paid for is read from the row, not the claim: it may have been
        generated during this very attempt. A pause records the error as the batch's reason. A
        budgeted claim that got no image gives its place in the budget back. The message is
        recorded redacted (jobs.redaction): it may quote what a library choked on.
        """
        now = utcnow()
        error_class = error.error_class
        message = redact(error.message)
        values: dict[str, Any] = {}
        with self.engine.begin() as conn:
            row = conn.execute(
                select(jobs_table.c.state, batches_table.c.state.label("batch_state"))
                .join(batches_table, batches_table.c.id == jobs_table.c.batch_id)
                .where(jobs_table.c.id == claim.job_id)
            ).one()
            paid = claim.paid_for or row.state == JobState.generated.value
            failed = FailedAttempt(
                error_class=error_class,
                retryable=error.retryable,
                counted_attempts=claim.counted_attempts,
                paid=paid,
                batch_cancelled=row.batch_state == BatchState.cancelled.value,
            )
            decision = decide_failure(failed, max_attempts=max_attempts, retry_in=retry_in)
            if not decision.counts_attempt:
                values["free_attempts"] = jobs_table.c.free_attempts + 1
            if decision.pauses_batch:
                _pause(conn, claim.batch.id, f"{error_class}: {message}")
            if decision.retry_in is not None:
                values["due_at"] = now + timedelta(seconds=decision.retry_in)
            state = decision.state
            held = _update_held(
                conn,
                claim.job_id,
                owner,
                state=state.value,
                error_class=error_class.value,
                error_message=message,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now if state.terminal else None,
                **values,
            )
            if not held:
                return decision
            if claim.budgeted and not paid:
                _give_back_to_budget(conn, claim.batch.id)
            _finish_attempt(conn, claim.job_id, claim.attempt, now, error=error, message=message)
        return decision

    def renew_leases(self, job_ids: list[int], owner_prefix: str, lease_seconds: float) -> int:
        """Extend the leases on `job_ids` still held by owners starting with `owner_prefix` (one
        process's threads), in one statement; returns how many were renewed."""
        if not job_ids:
            return 0
        now = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(jobs_table)
                .where(
                    jobs_table.c.id.in_(job_ids),
                    jobs_table.c.lease_owner.startswith(owner_prefix, autoescape=True),
                )
                .values(lease_expires_at=now + timedelta(seconds=lease_seconds))
            )
        return result.rowcount

    def _pause_for_budget(self, batch: Batch) -> None:
        cap = batch.image_cap or 0
        spent = f"${cap * batch.price_per_image:.2f} at ${batch.price_per_image:g} each"
        with self.engine.begin() as conn:
            _pause(
                conn,
                batch.id,
                f"budget: {counted(cap, 'image')} ({spent}) paid for or in flight",
                advice=f"raise it with `seedream-batch resume {batch.id} --max-images N` "
                "or `--max-cost USD`",
            )


def _claim_of(row: Row[Any], batch: Batch, *, attempt: int, budgeted: bool) -> Claim:
    """The Claim a claim's row (CLAIMED_JOB_COLUMNS and its batch's) makes."""
    return Claim(
        job_id=row.job_id,
        batch=batch,
        key=row.key,
        spec=Seedream40Input.model_validate(row.spec),
        provider_url=row.provider_url,
        inline_image=row.inline_image,
        attempt=attempt,
        free_attempts=row.free_attempts,
        budgeted=budgeted,
    )


def _take_from_budget(conn: Connection, batch: Batch) -> bool:
    """One more image for the batch, if its budget allows: atomic, however many workers ask."""
    taken = conn.execute(
        update(batches_table)
        .where(batches_table.c.id == batch.id, batches_table.c.budget_used < batch.image_cap)
        .values(budget_used=batches_table.c.budget_used + 1)
    )
    return taken.rowcount == 1


def _give_back_to_budget(conn: Connection, batch_id: str) -> None:
    conn.execute(
        update(batches_table)
        .where(batches_table.c.id == batch_id, batches_table.c.budget_used > 0)
        .values(budget_used=batches_table.c.budget_used - 1)
    )


def _pause(conn: Connection, batch_id: str, cause: str, *, advice: str | None = None) -> None:
    """Pause an active batch (a paused or cancelled one keeps its state and first reason).

    The reason is the cause and what to do about it, said once: `status` and the webhook show it
    as it is. Unless told otherwise, the advice is to fix the cause and resume."""
    reason = clauses(cause, advice or f"fix it, then `seedream-batch resume {batch_id}`")
    conn.execute(
        update(batches_table)
        .where(batches_table.c.id == batch_id, batches_table.c.state == BatchState.active.value)
        .values(state=BatchState.paused.value, paused_reason=reason)
    )


def _update_held(conn: Connection, job_id: int, owner: str, **values: Any) -> bool:
    """Write to a job only while `owner` still holds its lease; False when it no longer does
    (the reaper took the job back: the attempt is already closed, and is not written again)."""
    result = conn.execute(
        update(jobs_table)
        .where(jobs_table.c.id == job_id, jobs_table.c.lease_owner == owner)
        .values(updated_at=utcnow(), **values)
    )
    return result.rowcount == 1


def _finish_attempt(
    conn: Connection,
    job_id: int,
    number: int,
    now: datetime,
    *,
    error: JobError | None,
    message: str | None,
) -> None:
    conn.execute(
        update(attempts_table)
        .where(attempts_table.c.job_id == job_id, attempts_table.c.number == number)
        .values(
            finished_at=now,
            error_class=None if error is None else error.error_class.value,
            error_message=message,
        )
    )
