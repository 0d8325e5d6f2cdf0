"""A worker's writes to the results table: claim a job, record each step, let go of it.

A worker *claims* a job with one conditional UPDATE on its state, its lease and its due time, so
a message delivered twice, or early, can never make a second API call; every later write names
the lease owner, so a worker that lost its lease cannot overwrite the job's next holder. The
claim also takes the image from the batch's budget, in the same transaction, so a fleet of any
size can never pay for more than the budget allows.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, func, insert, or_, select, update

from jobs.content_address import content_address
from jobs.database import utcnow
from jobs.errors import JobError
from jobs.failure_policy import Decision, FailedAttempt, decide_failure
from jobs.job_path_statements import (
    ATTEMPT,
    CALL_IMAGES,
    CALL_LOG_ID,
    CALL_REQUEST_ID,
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
    RECORD_CALL,
    RECORD_GENERATED,
    RECORD_GENERATED_AT_ONCE,
    RECORD_SUCCEEDED,
    RECORD_SUCCEEDED_AT_ONCE,
    STARTED_BATCH,
    STORED_ADDRESS,
    STORED_FETCH_MS,
    STORED_HEIGHT,
    STORED_SHA256,
    STORED_SIZE,
    STORED_STORE_MS,
    STORED_URI,
    STORED_WIDTH,
)
from jobs.models import ModelInput, model_named
from jobs.records import Batch, Claim, PaidCall, StoredOutput
from jobs.redaction import redact
from jobs.schema import attempts_table, batches_table, job_images_table, jobs_table
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
        return _claim_of(row, batch, _spec_of(row, batch), attempt=row.attempts, budgeted=0)

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
                budgeted, spec = 0, None
                if not paid and batch.image_cap is not None:
                    spec = _spec_of(row, batch)
                    budgeted = model_named(batch.model).most_images(spec)
                    if not _take_from_budget(conn, batch, budgeted):
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
        spec = spec or _spec_of(row, batch)
        return _claim_of(row, batch, spec, attempt=number, budgeted=budgeted)

    def record_generated(
        self,
        claim: Claim,
        owner: str,
        *,
        provider_urls: Sequence[str],
        inline_image: bytes | None,
        api_ms: int,
        call: PaidCall,
    ) -> None:
        """The provider returned images: from here on a crash resumes at the upload, with the
        URLs (or the inline bytes) kept on the row, and the API is never called again. The call
        is recorded on the attempt and its cost added to the job's; budget held back for images
        the call did not return is given back."""
        written = {
            JOB.key: claim.job_id,
            OWNER.key: owner,
            ATTEMPT.key: claim.attempt,
            NOW.key: utcnow(),
            GENERATED_URL.key: "\n".join(provider_urls) or None,
            GENERATED_IMAGE.key: inline_image,
            GENERATED_API_MS.key: api_ms,
            **_call_values(claim, call),
        }
        if self._writes_at_once and claim.budgeted <= call.images:
            with self._autocommit.connect() as conn:
                conn.execute(RECORD_GENERATED_AT_ONCE, written)
            return
        with self.engine.begin() as conn:
            if conn.execute(RECORD_GENERATED, written).rowcount == 1:
                conn.execute(RECORD_CALL, written)
                give_back_to_budget(conn, claim.batch.id, claim.budgeted - call.images)

    def record_succeeded(self, claim: Claim, owner: str, stored: StoredOutput) -> None:
        """The images are stored: the job and its attempt are closed in one transaction, and the
        provider's URLs (signed: a credential while they last) and inline bytes are dropped. The
        job's row holds the first image; a job of several has each in `job_images` too."""
        written = stored_values(claim, owner, stored)
        if self._writes_at_once and len(stored.images) == 1:
            with self._autocommit.connect() as conn:
                conn.execute(RECORD_SUCCEEDED_AT_ONCE, written)
            return
        with self.engine.begin() as conn:
            if conn.execute(RECORD_SUCCEEDED, written).rowcount == 1:
                conn.execute(CLOSE_ATTEMPT_SUCCEEDED, written)
                if len(stored.images) > 1:
                    record_images(conn, claim.job_id, stored)

    def record_failure(
        self,
        claim: Claim,
        owner: str,
        error: JobError,
        max_attempts: int,
        retry_in: float,
        *,
        call: PaidCall | None = None,
    ) -> Decision:
        """Record the attempt's error and what `jobs.failure_policy` decides comes next (the job
        waits `retry_in` seconds when it is retried; the reaper enqueues it then).

        Whether the image is paid for is read from the row, not the claim: it may have been
        generated during this very attempt. `call` is a call this attempt paid for whose images
        could not be kept (an inline image that is not one): its cost is recorded all the same.
        A pause records the error as the batch's reason. A budgeted claim gives back what its
        call did not return. The message is recorded redacted (jobs.redaction): it may quote
        what a library choked on.
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
            if call is not None:
                values["cost"] = func.coalesce(jobs_table.c.cost, 0.0) + _cost(claim, call)
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
            if not paid:
                returned = 0 if call is None else call.images
                give_back_to_budget(conn, claim.batch.id, claim.budgeted - returned)
            _finish_attempt(conn, claim.job_id, claim.attempt, now, error=error, message=message)
            if call is not None:
                conn.execute(RECORD_CALL, _call_values(claim, call) | _attempt_of(claim))
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


def _claim_of(
    row: Row[Any], batch: Batch, spec: ModelInput, *, attempt: int, budgeted: int
) -> Claim:
    """The Claim a claim's row (CLAIMED_JOB_COLUMNS and its batch's) makes, with its input as
    `_spec_of` read it (once: a data URI's image is opened to validate it) and its content
    address."""
    return Claim(
        job_id=row.job_id,
        batch=batch,
        key=row.key,
        spec=spec,
        provider_urls=tuple(row.provider_url.splitlines()) if row.provider_url else (),
        inline_image=row.inline_image,
        attempt=attempt,
        free_attempts=row.free_attempts,
        budgeted=budgeted,
        address=content_address(model_named(batch.model), spec, row.variant),
    )


def _spec_of(row: Row[Any], batch: Batch) -> ModelInput:
    """The job's input, read back as its batch's model validates it."""
    return model_named(batch.model).parse_input(row.spec)


def _cost(claim: Claim, call: PaidCall) -> float:
    return call.images * claim.batch.price_per_image


def _call_values(claim: Claim, call: PaidCall) -> dict[str, Any]:
    """The bind values of a paid call (RECORD_GENERATED, RECORD_CALL)."""
    return {
        GENERATED_COST.key: _cost(claim, call),
        CALL_IMAGES.key: call.images,
        CALL_LOG_ID.key: call.log_id,
        CALL_REQUEST_ID.key: call.request_id,
    }


def _attempt_of(claim: Claim) -> dict[str, Any]:
    return {JOB.key: claim.job_id, ATTEMPT.key: claim.attempt}


def _take_from_budget(conn: Connection, batch: Batch, images: int) -> bool:
    """`images` more for the batch, if its budget allows: atomic, however many workers ask."""
    assert batch.image_cap is not None
    taken = conn.execute(
        update(batches_table)
        .where(
            batches_table.c.id == batch.id,
            batches_table.c.budget_used + images <= batch.image_cap,
        )
        .values(budget_used=batches_table.c.budget_used + images)
    )
    return taken.rowcount == 1


def give_back_to_budget(conn: Connection, batch_id: str, images: int) -> None:
    """Return `images` held back for a call that did not return them (none: nothing to do)."""
    if images <= 0:
        return
    conn.execute(
        update(batches_table)
        .where(batches_table.c.id == batch_id, batches_table.c.budget_used >= images)
        .values(budget_used=batches_table.c.budget_used - images)
    )


def stored_values(claim: Claim, owner: str, stored: StoredOutput) -> dict[str, Any]:
    """The bind values of a success (RECORD_SUCCEEDED): the first image's facts on the job."""
    first = stored.images[0]
    return {
        JOB.key: claim.job_id,
        OWNER.key: owner,
        ATTEMPT.key: claim.attempt,
        NOW.key: utcnow(),
        STORED_URI.key: first.output_uri,
        STORED_SIZE.key: first.size,
        STORED_SHA256.key: first.sha256,
        STORED_WIDTH.key: first.width,
        STORED_HEIGHT.key: first.height,
        STORED_FETCH_MS.key: stored.fetch_ms,
        STORED_STORE_MS.key: stored.store_ms,
        STORED_ADDRESS.key: claim.address,
    }


def record_images(conn: Connection, job_id: int, stored: StoredOutput) -> None:
    """Every image of a job of several, in `job_images` (those of an earlier store replaced)."""
    conn.execute(delete(job_images_table).where(job_images_table.c.job_id == job_id))
    conn.execute(
        insert(job_images_table),
        [
            {
                "job_id": job_id,
                "n": n,
                "output_uri": image.output_uri,
                "bytes": image.size,
                "sha256": image.sha256,
                "width": image.width,
                "height": image.height,
            }
            for n, image in enumerate(stored.images)
        ],
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
