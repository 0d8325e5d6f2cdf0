"""The results table's side of reuse: where a stored image of an address is, who is paying for
one, and a job completed by copying instead of calling.

A job's content address (jobs.content_address) is written when it succeeds, so the succeeded
jobs with an address are the images that may be copied (`ix_jobs_address`). While none exists, the
first job to take the address in `paying_addresses` pays; every other job with it waits
(jobs.errors.ReuseWait) and copies once the payer's image is stored. The payer lets go of the row
when it has succeeded; a row whose job is not running or storing a paid image (it waits for a
retry, its batch is paused, it ended without an image, or it was pruned) is taken over by the
next job that asks, so no payer strands its waiters.
"""

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from jobs.claims import give_back_to_budget, record_images, stored_values
from jobs.database import utcnow
from jobs.job_path_statements import CLOSE_ATTEMPT_SUCCEEDED, RECORD_SUCCEEDED
from jobs.records import Claim, StoredImage, StoredOutput
from jobs.schema import batches_table, job_images_table, jobs_table, paying_addresses_table
from jobs.states import JobState

#: the stored images looked at for one job: enough to step past a few deleted from storage
SOURCES_TRIED = 3
_REUSED_FROM = bindparam("reused_from", type_=jobs_table.c.reused_from.type)
_SAVED = bindparam("saved", type_=jobs_table.c.saved.type)
#: A holder in these states may be paying right now (running) or has paid (generated: its
#: image is stored on its next attempt): wait for it. Any other holder is taken over: one
#: queued (its call failed and waits for a retry, or its batch is paused) would otherwise keep
#: every other batch asking for that image waiting as long as it waits; one final or gone can
#: pay no more.
_PAYING_STATES = {JobState.running.value, JobState.generated.value}
#: who holds an address now
_holder = select(paying_addresses_table.c.job_id).where(
    paying_addresses_table.c.address == bindparam("address")
)
#: a success by copying: the usual success, plus where the images came from and what they saved
_RECORD_REUSED = RECORD_SUCCEEDED.values(reused_from=_REUSED_FROM, saved=_SAVED)


@dataclass(frozen=True)
class ReuseSource:
    """A succeeded job whose images may be copied: where they are stored and what they are."""

    job_id: int
    batch_id: str
    key: str
    #: its batch's output location (a folder or s3://bucket/prefix)
    output: str
    images: tuple[StoredImage, ...]


class ReuseRecords:
    """The reuse half of `jobs.results.ResultsTable`."""

    engine: Engine

    def reuse_sources(self, address: str, job_id: int, *, several: bool) -> list[ReuseSource]:
        """Succeeded jobs other than `job_id` with `address`, those that paid first, newest first
        (at most SOURCES_TRIED), each with its images in the answer's order (read from
        `job_images` only when the model may answer with `several`: one query less a job)."""
        jobs = jobs_table.c
        query = (
            select(
                jobs.id,
                jobs.batch_id,
                jobs.key,
                batches_table.c.output,
                jobs.output_uri,
                jobs.bytes,
                jobs.sha256,
                jobs.width,
                jobs.height,
            )
            .join(batches_table, batches_table.c.id == jobs.batch_id)
            .where(
                jobs.address == address,
                jobs.state == JobState.succeeded.value,
                jobs.id != job_id,
            )
            # the job that paid before its copies, so `reused_from` names where an image came from
            .order_by(jobs.reused_from.is_not(None), jobs.id.desc())
            .limit(SOURCES_TRIED)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
            images = _images_of(conn, [row.id for row in rows]) if several else {}
        return [
            ReuseSource(
                row.id,
                row.batch_id,
                row.key,
                row.output,
                images.get(row.id)
                or (StoredImage(row.output_uri, row.bytes, row.sha256, row.width, row.height),),
            )
            for row in rows
        ]

    def forget_source(self, job_id: int) -> None:
        """The job's image is no longer in storage: it is offered as a source no more."""
        with self.engine.begin() as conn:
            conn.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(address=None))

    def hold_address(self, address: str, job_id: int) -> int:
        """Take `address` for `job_id` to pay for, unless another job that may still pay holds
        it; returns the job that holds it now (`job_id` when it is this one's)."""
        paying = paying_addresses_table.c
        now = utcnow()
        insert = postgresql_insert if self.engine.dialect.name == "postgresql" else sqlite_insert
        with self.engine.begin() as conn:
            conn.execute(
                insert(paying_addresses_table)
                .values(address=address, job_id=job_id, since=now)
                .on_conflict_do_nothing(index_elements=[paying.address])
            )
            holder = conn.execute(_holder, {"address": address}).scalar()
            if holder is None or holder == job_id:
                return job_id
            state = conn.execute(
                select(jobs_table.c.state).where(jobs_table.c.id == holder)
            ).scalar()
            if state in _PAYING_STATES:
                return int(holder)
            conn.execute(
                update(paying_addresses_table)
                .where(paying.address == address, paying.job_id == holder)
                .values(job_id=job_id, since=now)
            )
            return int(
                conn.execute(select(paying.job_id).where(paying.address == address)).scalar_one()
            )

    def release_address(self, address: str, job_id: int) -> None:
        """`job_id` paid and stored its image: its own row now tells where the image is."""
        paying = paying_addresses_table.c
        with self.engine.begin() as conn:
            conn.execute(
                delete(paying_addresses_table).where(
                    paying.address == address, paying.job_id == job_id
                )
            )

    def record_reused(self, claim: Claim, owner: str, source_id: int, stored: StoredOutput) -> None:
        """The job is complete with copies of `source_id`'s images: succeeded, nothing paid,
        what it saved recorded, and the budget its claim held back given back."""
        written = stored_values(claim, owner, stored) | {
            _REUSED_FROM.key: source_id,
            _SAVED.key: len(stored.images) * claim.batch.price_per_image,
        }
        with self.engine.begin() as conn:
            if conn.execute(_RECORD_REUSED, written).rowcount == 1:
                conn.execute(CLOSE_ATTEMPT_SUCCEEDED, written)
                if len(stored.images) > 1:
                    record_images(conn, claim.job_id, stored)
                give_back_to_budget(conn, claim.batch.id, claim.budgeted)


def _images_of(conn: Connection, job_ids: list[int]) -> dict[int, tuple[StoredImage, ...]]:
    """The images of those of `job_ids` that stored several (`job_images`), in order."""
    if not job_ids:
        return {}
    images = job_images_table.c
    found: dict[int, list[StoredImage]] = {}
    query = (
        select(images.job_id, images.output_uri, images.bytes, images.sha256, images.width,
               images.height)
        .where(images.job_id.in_(job_ids))
        .order_by(images.job_id, images.n)
    )  # fmt: skip
    for row in conn.execute(query):
        found.setdefault(row.job_id, []).append(
            StoredImage(row.output_uri, row.bytes, row.sha256, row.width, row.height)
        )
    return {job_id: tuple(stored) for job_id, stored in found.items()}
