"""The results table: every job's state, the one source of truth (docs/design.md).

A worker *claims* a job with one conditional UPDATE on its state and lease, and every later write
names the lease owner, so a message delivered twice, or a worker that lost its lease, can never
make a second API call or overwrite another worker's result.
"""

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, case, func, insert, literal_column, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from jobs.bulk_insert import insert_new_jobs
from jobs.claims import JobClaims
from jobs.database import utcnow
from jobs.kept_summaries import KeptSummaries
from jobs.migrate import add_missing_columns
from jobs.notices import BatchNotices
from jobs.records import (
    EQUAL_SHARE,
    Batch,
    BatchProgress,
    Claim,
    Share,
    StoredImage,
    as_utc,
)
from jobs.recovery import JobRecovery
from jobs.reuse_records import ReuseRecords
from jobs.schema import batches_table, jobs_table, metadata
from jobs.schema_version import record_schema_version
from jobs.spec import JobSpec
from jobs.states import JobState

__all__ = ["Batch", "BatchExists", "Claim", "ResultsTable", "Share", "StoredImage"]

#: how many times making the schema is tried when other processes are making it at once
_SCHEMA_TRIES = 5


class BatchExists(RuntimeError):
    """A batch of that name is already in the table (its name is the primary key)."""


class ResultsTable(JobClaims, ReuseRecords, JobRecovery, BatchNotices, KeptSummaries):
    """Reads and writes batches, jobs and attempts; knows nothing of Celery or HTTP.

    A worker's writes (claim, record each step) are `jobs.claims`'; finding what the queue lost
    and the user's commands on a batch (resume, retry, cancel) are `jobs.recovery`'s; which
    batches have news for the webhook is `jobs.notices`'.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        """Create the tables that are missing and add the columns an older version's tables
        lack (idempotent, safe from several processes)."""
        for attempt in range(_SCHEMA_TRIES):
            try:
                metadata.create_all(self.engine)
                add_missing_columns(self.engine, metadata)
                record_schema_version(self.engine)
                return
            except DBAPIError:
                # another process created a table between our check and our CREATE (workers and
                # `submit` starting together): look again, it is there now
                if attempt == _SCHEMA_TRIES - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    # -- batches -----------------------------------------------------------------------------

    def create_batch(
        self,
        batch_id: str,
        manifest: str,
        output: str,
        model: str,
        *,
        price_per_image: float = 0.03,
        max_images: int | None = None,
        max_cost: float | None = None,
        schedule: str | None = None,
        manifest_sha256: str | None = None,
        share: Share = EQUAL_SHARE,
        variants: int = 1,
        fresh: bool = False,
    ) -> Batch:
        """Record a new batch; raises BatchExists if the name is taken, atomically (the insert
        conflicts), so two processes making the same batch at once make it once."""
        batch = Batch(
            batch_id,
            manifest,
            output,
            model,
            rejected=0,
            price_per_image=price_per_image,
            max_images=max_images,
            max_cost=max_cost,
            schedule=schedule,
            manifest_sha256=manifest_sha256,
            share=share,
            variants=variants,
            fresh=fresh,
        )
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(batches_table).values(
                        id=batch_id,
                        created_at=utcnow(),
                        manifest=manifest,
                        output=output,
                        model=model,
                        rejected=0,
                        state=batch.state.value,
                        price_per_image=price_per_image,
                        max_images=max_images,
                        max_cost=max_cost,
                        budget_used=0,
                        schedule=schedule,
                        manifest_sha256=manifest_sha256,
                        weight=share.weight,
                        max_in_flight=share.max_in_flight,
                        variants=variants,
                        fresh=fresh,
                    )
                )
        except IntegrityError:
            raise BatchExists(f"a batch named {batch_id!r} already exists") from None
        return batch

    def get_batch(self, batch_id: str) -> Batch | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(batches_table).where(batches_table.c.id == batch_id)
            ).one_or_none()
        return None if row is None else Batch.from_row(row._mapping)

    def add_rejected(self, batch_id: str, count: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(batches_table)
                .where(batches_table.c.id == batch_id)
                .values(rejected=batches_table.c.rejected + count)
            )

    def recent_batches(self, limit: int = 20) -> list[Batch]:
        query = select(batches_table).order_by(batches_table.c.created_at.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [Batch.from_row(row._mapping) for row in conn.execute(query)]

    def latest_of_schedule(self, schedule: str) -> Batch | None:
        """The last batch the schedule made, if it made any."""
        query = (
            select(batches_table)
            .where(batches_table.c.schedule == schedule)
            .order_by(batches_table.c.created_at.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one_or_none()
        return None if row is None else Batch.from_row(row._mapping)

    # -- loading -----------------------------------------------------------------------------

    def add_jobs(self, batch_id: str, specs: Sequence[JobSpec]) -> list[int]:
        """Insert `specs` as queued jobs, due now, in one transaction; returns their ids in order.

        Their keys must be new to the batch (the manifest reader refuses a repeated key): a key
        the batch has already raises sqlalchemy's IntegrityError, and none of `specs` is kept."""
        if not specs:
            return []
        with self.engine.begin() as conn:
            return insert_new_jobs(conn, batch_id, specs, utcnow())

    def progress(self, batch_id: str, since: datetime | None = None) -> "BatchProgress":
        """Counts by state, spend and the last job's finish, in one pass over the batch; with
        `since`, in the same pass, how many of each state finished at or after it."""
        lately = (
            case((jobs_table.c.finished_at >= since, 1), else_=0) if since else literal_column("0")
        )
        query = (
            select(
                jobs_table.c.state,
                func.count(),
                func.coalesce(func.sum(jobs_table.c.cost), 0.0),
                func.max(jobs_table.c.finished_at),
                func.sum(lately),
                func.count(jobs_table.c.reused_from),
                func.coalesce(func.sum(jobs_table.c.saved), 0.0),
            )
            .where(jobs_table.c.batch_id == batch_id)
            .group_by(jobs_table.c.state)
        )
        counts = {state: 0 for state in JobState}
        recent: dict[JobState, int] = {}
        spend, saved, reused, last = 0.0, 0.0, 0, None
        with self.engine.connect() as conn:
            for state, count, cost, finished, since_count, copies, saving in conn.execute(query):
                counts[JobState(state)] = count
                recent[JobState(state)] = int(since_count or 0)
                spend += float(cost)
                reused += int(copies)
                saved += float(saving)
                finished = as_utc(finished)
                if finished is not None and (last is None or finished > last):
                    last = finished
        return BatchProgress(counts, spend, last, since, recent if since else {}, reused, saved)

    def spend(self, batch_id: str) -> float:
        """What the provider billed for the batch so far (every image it returned)."""
        query = select(func.coalesce(func.sum(jobs_table.c.cost), 0.0)).where(
            jobs_table.c.batch_id == batch_id
        )
        with self.engine.connect() as conn:
            return float(conn.execute(query).scalar_one())

    # -- reading -----------------------------------------------------------------------------

    def counts(self, batch_id: str) -> dict[JobState, int]:
        """How many jobs of the batch are in each state (every state present, zero or not)."""
        query = (
            select(jobs_table.c.state, func.count())
            .where(jobs_table.c.batch_id == batch_id)
            .group_by(jobs_table.c.state)
        )
        found = {state: 0 for state in JobState}
        with self.engine.connect() as conn:
            for state, count in conn.execute(query):
                found[JobState(state)] = count
        return found

    def job_rows(self, batch_id: str) -> list[dict[str, Any]]:
        """Every job of the batch as a dict, in manifest order (for reports and tests), without
        the bytes of an inline image waiting to be stored."""
        columns = [column for column in jobs_table.columns if column.name != "inline_image"]
        query = (
            select(*columns)
            .where(jobs_table.c.batch_id == batch_id)
            .order_by(jobs_table.c.line, jobs_table.c.id)
        )
        with self.engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]

    def error_summary(self, batch_id: str) -> list[tuple[str, int, str]]:
        """(error class, failed jobs, one example message) for the batch's failed jobs."""
        query = (
            select(jobs_table.c.error_class, func.count(), func.min(jobs_table.c.error_message))
            .where(jobs_table.c.batch_id == batch_id, jobs_table.c.state == JobState.failed.value)
            .group_by(jobs_table.c.error_class)
            .order_by(func.count().desc())
        )
        with self.engine.connect() as conn:
            return [
                (cls or "unknown", count, example or "")
                for cls, count, example in conn.execute(query)
            ]
