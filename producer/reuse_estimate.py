"""How many of a manifest's jobs a run would complete by copying instead of paying (worker.reuse).

A job is copied when a succeeded job with its content address is in the results table, or when
an earlier job of the same manifest has its address (that one pays, this one copies). The table
is only read, and only when one exists: an estimate never creates one, and looks addresses up a
chunk at a time.

Repeats within the manifest are counted once it has been read: each job's address is kept as 8
bytes (its first 60 bits and, below them, the images its call may return) in an array, made a
set only at the end, when the reader's own memory (the key check) is gone. A set kept while
reading would have held 70 MB more at the reader's peak, for a million jobs.
"""

from array import array
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from jobs.content_address import content_digest
from jobs.database import NoResultsTable, open_existing_engine
from jobs.models import ModelAdapter
from jobs.schema import jobs_table
from jobs.spec import JobSpec
from jobs.states import JobState

#: addresses asked of the table in one query
LOOKUP_CHUNK = 1000
#: the low bits of a packed job that hold its images (a call returns at most 15)
_IMAGE_BITS = 4
_IMAGES_MASK = (1 << _IMAGE_BITS) - 1
#: the bits of a packed job above its images: 60 bits of its address (or of its input's hash)
_IDENTITY_MASK = (1 << 64) - 1 - _IMAGES_MASK


@dataclass
class ReuseEstimate:
    """Takes the jobs of a manifest one by one; `finish` says how many a run would copy."""

    model: ModelAdapter
    engine: Engine | None
    reused: int = 0
    reused_images: int = 0
    #: every addressed job, packed (`_packed`)
    _jobs: array = field(default_factory=lambda: array("Q"))  # type: ignore[type-arg]
    #: the packed jobs whose address the table has
    _stored: array = field(default_factory=lambda: array("Q"))  # type: ignore[type-arg]
    _pending: list[tuple[str, int]] = field(default_factory=list)
    #: the images of every addressed job
    _images: int = 0

    @classmethod
    def against(cls, database_url: str, model: ModelAdapter) -> "ReuseEstimate":
        """An estimate against the table at `database_url` (none there: only the manifest's own
        repeats count)."""
        try:
            engine: Engine | None = open_existing_engine(database_url)
        except NoResultsTable:
            engine = None
        return cls(model, engine)

    def add(self, job: JobSpec, images: int) -> None:
        """Take a job whose call may return `images`."""
        spec = job.input
        if self.engine is None and not spec.input_images():
            # only repeats within the manifest can count: the job's input as its values, in
            # its model's field order, is its address in this process (0.7 µs, not 3)
            self._take(hash((job.variant or 1, *spec.__dict__.values())), images)
            return
        digest = content_digest(self.model, spec, job.variant)
        if digest is None:
            return
        packed = self._take(int.from_bytes(digest[:8]), images)
        if self.engine is not None:
            self._pending.append((digest.hex(), packed))
            if len(self._pending) >= LOOKUP_CHUNK:
                self._look_up()

    def _take(self, identity: int, images: int) -> int:
        """Keep a job by 60 bits of what identifies its image, and its images; returns that."""
        packed = identity & _IDENTITY_MASK | images
        self._jobs.append(packed)
        self._images += images
        return packed

    def finish(self) -> "ReuseEstimate":
        """Count the copies: for each address, every job but the first (which pays), and the
        first too when the table has the address; in sets, not a loop over the jobs."""
        self._look_up()
        if self.engine is not None:
            self.engine.dispose()
        distinct = set(self._jobs)
        stored = distinct.intersection(self._stored)
        self.reused = len(self._jobs) - len(distinct) + len(stored)
        self.reused_images = self._images - _images_of(distinct) + _images_of(stored)
        self._jobs, self._stored = array("Q"), array("Q")
        return self

    def _look_up(self) -> None:
        pending, self._pending = self._pending, []
        if self.engine is None or not pending:
            return
        found = _stored(self.engine, [address for address, _ in pending])
        self._stored.extend(packed for address, packed in pending if address in found)


def _images_of(packed: set[int]) -> int:
    return sum(value & _IMAGES_MASK for value in packed)


def _stored(engine: Engine, addresses: list[str]) -> set[str]:
    query = select(jobs_table.c.address).where(
        jobs_table.c.address.in_(addresses),
        jobs_table.c.state == JobState.succeeded.value,
    )
    with engine.connect() as conn:
        return {row.address for row in conn.execute(query)}
