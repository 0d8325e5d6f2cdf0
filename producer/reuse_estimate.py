"""How many of a manifest's jobs a run would complete by copying instead of paying (worker.reuse).

A job is copied when a succeeded job with its content address is in the results table, or when
an earlier job of the same manifest has its address (that one pays, this one copies). The table
is only read, and only when one exists: an estimate never creates one. Addresses are looked up a
chunk at a time, and those of the manifest kept as 8-byte prefixes, so a million jobs cost
about 60 MB more, not a set of million 64-character strings.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, select

from jobs.content_address import content_address
from jobs.database import NoResultsTable, open_existing_engine
from jobs.models import ModelAdapter
from jobs.schema import jobs_table
from jobs.spec import JobSpec
from jobs.states import JobState

#: addresses asked of the table in one query
LOOKUP_CHUNK = 1000


@dataclass
class ReuseEstimate:
    """Counts the jobs given to it that a run would copy rather than pay for."""

    model: ModelAdapter
    engine: Engine | None
    reused: int = 0
    reused_images: int = 0
    _seen: set[int] = field(default_factory=set)
    _pending: list[tuple[str, int]] = field(default_factory=list)

    @classmethod
    def against(cls, database_url: str, model: ModelAdapter) -> "ReuseEstimate":
        """An estimate against the table at `database_url` (none there: only the manifest's own
        repeats count)."""
        try:
            engine: Engine | None = open_existing_engine(database_url)
        except NoResultsTable:
            engine = None
        return cls(model, engine)

    def add(self, job: JobSpec) -> None:
        address = content_address(self.model, job.input, job.variant)
        if address is None:
            return
        images = self.model.most_images(job.input)
        prefix = int(address[:16], 16)
        if prefix in self._seen:
            self._count(images)
            return
        self._seen.add(prefix)
        self._pending.append((address, images))
        if len(self._pending) >= LOOKUP_CHUNK:
            self._look_up()

    def finish(self) -> "ReuseEstimate":
        self._look_up()
        if self.engine is not None:
            self.engine.dispose()
        return self

    def _count(self, images: int) -> None:
        self.reused += 1
        self.reused_images += images

    def _look_up(self) -> None:
        pending, self._pending = self._pending, []
        if self.engine is None or not pending:
            return
        stored = _stored(self.engine, (address for address, _ in pending))
        for address, images in pending:
            if address in stored:
                self._count(images)


def _stored(engine: Engine, addresses: Iterable[str]) -> set[str]:
    query = select(jobs_table.c.address).where(
        jobs_table.c.address.in_(list(addresses)),
        jobs_table.c.state == JobState.succeeded.value,
    )
    with engine.connect() as conn:
        return {row.address for row in conn.execute(query)}
