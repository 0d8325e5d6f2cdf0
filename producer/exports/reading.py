"""A batch's jobs read from the results table as a stream, in manifest order.

One query, read in chunks (a server-side cursor on PostgreSQL, SQLite's own lazy cursor): memory
stays flat for a batch of millions, and the table is sorted once, not once per page.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, select

from jobs.schema import jobs_table
from jobs.states import JobState
from producer.exports.metadata_columns import MetadataColumns
from producer.exports.rows import JOB_COLUMNS, export_row

#: rows fetched from the database at a time
CHUNK_ROWS = 2000


@dataclass
class BatchRows:
    """The export rows of one batch."""

    engine: Engine
    batch_id: str

    def rows(self, *, succeeded_only: bool = False) -> Iterator[dict[str, Any]]:
        """Every job's export row (or only those with a stored image), in manifest order."""
        where = [jobs_table.c.state == JobState.succeeded.value] if succeeded_only else []
        for job in self._stream([jobs_table.c[name] for name in JOB_COLUMNS], where):
            yield export_row(job)

    def metadata_columns(self, *, succeeded_only: bool = False) -> MetadataColumns:
        """The first pass of a flat export: every metadata name and the kind of its values."""
        where = [jobs_table.c.state == JobState.succeeded.value] if succeeded_only else []
        return MetadataColumns.of(
            job["metadata"] for job in self._stream([jobs_table.c.metadata], where)
        )

    def _stream(self, columns: list[Any], where: list[ColumnElement[bool]]) -> Iterator[Any]:
        query = (
            select(*columns)
            .where(jobs_table.c.batch_id == self.batch_id, *where)
            .order_by(jobs_table.c.line, jobs_table.c.id)
        )
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=CHUNK_ROWS).execute(query)
            for row in result:
                yield row._mapping
