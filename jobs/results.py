"""The results table: every job's state, the one source of truth (shared/DESIGN.md §4).

A worker *claims* a job with one conditional UPDATE on its state and lease, and every later write
names the lease owner, so a message delivered twice, or a worker that lost its lease, can never
make a second API call or overwrite another worker's result.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, or_, select, update

from jobs.bulk_insert import insert_new_jobs
from jobs.database import utcnow
from jobs.errors import JobError
from jobs.schema import attempts, batches, jobs, metadata
from jobs.spec import ImageInput, JobSpec
from jobs.states import TERMINAL_STATES, JobState


@dataclass(frozen=True)
class Batch:
    """A batch as the table knows it."""

    id: str
    manifest: str
    output: str
    model: str
    rejected: int


@dataclass(frozen=True)
class Claim:
    """A job a worker now holds the lease on, with what it needs to finish it."""

    job_id: int
    batch: Batch
    key: str
    spec: ImageInput
    #: the provider already returned this image (state `generated`): store it, do not call again
    provider_url: str | None
    attempt: int


@dataclass(frozen=True)
class StoredImage:
    """What the row records once the image is in storage."""

    output_uri: str
    size: int
    sha256: str
    width: int
    height: int
    fetch_ms: int
    store_ms: int


@dataclass(frozen=True)
class Duplicate:
    """A manifest row whose key another row of the batch already has."""

    spec: JobSpec
    first_line: int


class ResultsTable:
    """Reads and writes batches, jobs and attempts; knows nothing of Celery or HTTP."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create the tables that are missing (idempotent, safe from several processes)."""
        metadata.create_all(self.engine)

    # -- batches -----------------------------------------------------------------------------

    def create_batch(self, batch_id: str, manifest: str, output: str, model: str) -> Batch:
        with self.engine.begin() as conn:
            conn.execute(
                insert(batches).values(
                    id=batch_id,
                    created_at=utcnow(),
                    manifest=manifest,
                    output=output,
                    model=model,
                    rejected=0,
                )
            )
        return Batch(batch_id, manifest, output, model, 0)

    def get_batch(self, batch_id: str) -> Batch | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(batches).where(batches.c.id == batch_id)).one_or_none()
        return None if row is None else _batch(row._mapping)

    def add_rejected(self, batch_id: str, count: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id == batch_id)
                .values(rejected=batches.c.rejected + count)
            )

    def recent_batches(self, limit: int = 20) -> list[Batch]:
        query = select(batches).order_by(batches.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [_batch(row._mapping) for row in conn.execute(query)]

    # -- loading -----------------------------------------------------------------------------

    def add_jobs(
        self, batch_id: str, specs: Sequence[JobSpec]
    ) -> tuple[list[int], list[Duplicate]]:
        """Insert `specs` as queued jobs in one statement; a key already in the batch is not
        inserted but returned as a Duplicate naming the line that has it first."""
        if not specs:
            return [], []
        with self.engine.begin() as conn:
            inserted = insert_new_jobs(conn, batch_id, specs, utcnow())
            ids: list[int] = []
            repeated: list[JobSpec] = []
            for spec in specs:
                job_id = inserted.pop(spec.key, None)
                if job_id is None:
                    repeated.append(spec)
                else:
                    ids.append(job_id)
            duplicates = self._with_first_lines(conn, batch_id, repeated)
        return ids, duplicates

    @staticmethod
    def _with_first_lines(conn: Any, batch_id: str, duplicates: list[JobSpec]) -> list[Duplicate]:
        if not duplicates:
            return []
        keys = {spec.key for spec in duplicates}
        first = dict(
            conn.execute(
                select(jobs.c.key, jobs.c.line).where(
                    jobs.c.batch_id == batch_id, jobs.c.key.in_(keys)
                )
            ).all()
        )
        return [Duplicate(spec, first[spec.key]) for spec in duplicates]

    # -- claiming and recording --------------------------------------------------------------

    def claim(self, job_id: int, owner: str, lease_seconds: float) -> Claim | None:
        """Take the job if no one holds it; None when it is final, leased, or taken meanwhile."""
        now = utcnow()
        query = (
            select(
                jobs.c.state, jobs.c.key, jobs.c.spec, jobs.c.provider_url, jobs.c.attempts, batches
            )
            .join(batches, batches.c.id == jobs.c.batch_id)
            .where(jobs.c.id == job_id)
        )
        with self.engine.begin() as conn:
            row = conn.execute(query).one_or_none()
            if row is None or JobState(row.state) in TERMINAL_STATES:
                return None
            observed = JobState(row.state)
            # a generated job keeps its state: the claim is for the upload only
            new_state = JobState.generated if observed is JobState.generated else JobState.running
            taken = conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.state == observed.value, _lease_free(now))
                .values(
                    state=new_state.value,
                    lease_owner=owner,
                    lease_expires_at=now + timedelta(seconds=lease_seconds),
                    attempts=jobs.c.attempts + 1,
                    updated_at=now,
                )
            )
            if taken.rowcount != 1:
                return None
            number = row.attempts + 1
            conn.execute(
                insert(attempts).values(job_id=job_id, number=number, worker=owner, started_at=now)
            )
        return Claim(
            job_id=job_id,
            batch=_batch(row._mapping),
            key=row.key,
            spec=ImageInput.model_validate(row.spec),
            provider_url=row.provider_url,
            attempt=number,
        )

    def record_generated(
        self, claim: Claim, owner: str, provider_url: str | None, api_ms: int, cost: float
    ) -> None:
        """The provider returned an image: from here on a crash resumes at the upload."""
        with self.engine.begin() as conn:
            _update_held(
                conn,
                claim.job_id,
                owner,
                state=JobState.generated.value,
                provider_url=provider_url,
                api_ms=api_ms,
                cost=cost,
            )

    def record_succeeded(self, claim: Claim, owner: str, stored: StoredImage) -> None:
        """The image is stored: the job and its attempt are closed in one transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
            _update_held(
                conn,
                claim.job_id,
                owner,
                state=JobState.succeeded.value,
                output_uri=stored.output_uri,
                bytes=stored.size,
                sha256=stored.sha256,
                width=stored.width,
                height=stored.height,
                fetch_ms=stored.fetch_ms,
                store_ms=stored.store_ms,
                error_class=None,
                error_message=None,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=now,
            )
            _finish_attempt(conn, claim, now, None)

    def record_failure(
        self, claim: Claim, owner: str, error: JobError, max_attempts: int
    ) -> JobState:
        """Record the attempt's error; the job goes back to wait for a retry while the class is
        transient and attempts remain (to `generated` when the image was already paid for), else
        it fails. Returns the state the job is left in."""
        now = utcnow()
        retry = error.error_class.transient and claim.attempt < max_attempts
        with self.engine.begin() as conn:
            paid = conn.execute(select(jobs.c.state).where(jobs.c.id == claim.job_id)).scalar_one()
            if not retry:
                state = JobState.failed
            elif paid == JobState.generated.value:
                state = JobState.generated
            else:
                state = JobState.queued
            _update_held(
                conn,
                claim.job_id,
                owner,
                state=state.value,
                error_class=error.error_class.value,
                error_message=error.message,
                lease_owner=None,
                lease_expires_at=None,
                finished_at=None if retry else now,
            )
            _finish_attempt(conn, claim, now, error)
        return state

    def release_lease(self, job_id: int, owner: str) -> None:
        """Hand a job back as if its lease had expired (its holder is known to be dead)."""
        with self.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id, jobs.c.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None, updated_at=utcnow())
            )

    def cancel_unfinished(self, batch_id: str) -> int:
        """Cancel the batch's queued jobs (running ones finish); returns how many."""
        now = utcnow()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(jobs)
                .where(jobs.c.batch_id == batch_id, jobs.c.state == JobState.queued.value)
                .values(state=JobState.cancelled.value, updated_at=now, finished_at=now)
            )
        return result.rowcount

    def spend(self, batch_id: str) -> float:
        """What the provider billed for the batch so far (every image it returned)."""
        query = select(func.coalesce(func.sum(jobs.c.cost), 0.0)).where(jobs.c.batch_id == batch_id)
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar_one())

    # -- reading -----------------------------------------------------------------------------

    def counts(self, batch_id: str) -> dict[JobState, int]:
        """How many jobs of the batch are in each state (every state present, zero or not)."""
        query = (
            select(jobs.c.state, func.count())
            .where(jobs.c.batch_id == batch_id)
            .group_by(jobs.c.state)
        )
        found = {state: 0 for state in JobState}
        with self.engine.connect() as conn:
            for state, count in conn.execute(query):
                found[JobState(state)] = count
        return found

    def unfinished_job_ids(self, batch_id: str, chunk: int = 1000) -> Iterator[int]:
        """Ids of every job of the batch that is not final and not under a live lease, streamed."""
        query = (
            select(jobs.c.id)
            .where(
                jobs.c.batch_id == batch_id,
                jobs.c.state.not_in([state.value for state in TERMINAL_STATES]),
                _lease_free(utcnow()),
            )
            .order_by(jobs.c.id)
        )
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=chunk).execute(query).scalars()

    def leases(self, batch_id: str) -> list[tuple[int, str]]:
        """(job id, owner) of every live or expired lease of the batch."""
        query = select(jobs.c.id, jobs.c.lease_owner).where(
            jobs.c.batch_id == batch_id, jobs.c.lease_owner.is_not(None)
        )
        with self.engine.connect() as conn:
            return [(row.id, row.lease_owner) for row in conn.execute(query)]

    def job_rows(self, batch_id: str) -> list[dict[str, Any]]:
        """Every job of the batch as a dict, in manifest order (for reports and tests)."""
        query = select(jobs).where(jobs.c.batch_id == batch_id).order_by(jobs.c.line)
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def error_summary(self, batch_id: str) -> list[tuple[str, int, str]]:
        """(error class, failed jobs, one example message) for the batch's failed jobs."""
        query = (
            select(jobs.c.error_class, func.count(), func.min(jobs.c.error_message))
            .where(jobs.c.batch_id == batch_id, jobs.c.state == JobState.failed.value)
            .group_by(jobs.c.error_class)
            .order_by(func.count().desc())
        )
        with self.engine.connect() as conn:
            return [
                (cls or "unknown", count, example or "")
                for cls, count, example in conn.execute(query)
            ]


def _update_held(conn: Connection, job_id: int, owner: str, **values: Any) -> None:
    """Write to a job only while `owner` still holds its lease."""
    conn.execute(
        update(jobs)
        .where(jobs.c.id == job_id, jobs.c.lease_owner == owner)
        .values(updated_at=utcnow(), **values)
    )


def _finish_attempt(conn: Connection, claim: Claim, now: Any, error: JobError | None) -> None:
    conn.execute(
        update(attempts)
        .where(attempts.c.job_id == claim.job_id, attempts.c.number == claim.attempt)
        .values(
            finished_at=now,
            error_class=None if error is None else error.error_class.value,
            error_message=None if error is None else error.message,
        )
    )


def _lease_free(now: Any) -> Any:
    return or_(jobs.c.lease_expires_at.is_(None), jobs.c.lease_expires_at < now)


def _batch(row: Any) -> Batch:
    return Batch(row["id"], row["manifest"], row["output"], row["model"], row["rejected"])
