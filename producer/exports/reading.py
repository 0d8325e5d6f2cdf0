"""A batch's jobs read from the results table as a stream, in manifest order, a row per image.

One query, read in chunks (a server-side cursor on PostgreSQL, SQLite's own lazy cursor): memory
stays flat for a batch of millions, and the table is sorted once, not once per page. The query
joins `job_images` when the batch has rows there, so a job of several images comes as one row per
image, in `n` order, and a job of one image (no rows there) as its own row.
"""

from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Engine, Select, and_, func, null, select

from jobs.models import ModelAdapter, model_named
from jobs.schema import batches_table, job_images_table, jobs_table
from jobs.states import JobState
from producer.exports.metadata_columns import MetadataColumns
from producer.exports.rows import IMAGE_COLUMNS, JOB_COLUMNS, export_row

#: rows fetched from the database at a time
CHUNK_ROWS = 2000

_IMAGES = job_images_table
#: the job's images, if it has any in `job_images`; only for a job with a stored image, so that
#: a row there can never give a job without one (failed after a retry, say) an image
_ITS_IMAGES = and_(_IMAGES.c.job_id == jobs_table.c.id, jobs_table.c.output_uri.is_not(None))


def _column(name: str) -> ColumnElement[Any]:
    """A row's column: the image's when the job has rows in `job_images`, else the job's."""
    if name in IMAGE_COLUMNS:
        return func.coalesce(_IMAGES.c[name], jobs_table.c[name]).label(name)
    return jobs_table.c[name]


#: what the row query selects: JOB_COLUMNS (the image's own where it has them) and `image_n`
_ROW_COLUMNS = [*(_column(name) for name in JOB_COLUMNS), _IMAGES.c.n.label("image_n")]
#: ... for a batch with nothing in `job_images` (every batch of a one-image model): no join,
#: which costs about 6 % of a JSONL export's time
_JOB_ROW_COLUMNS = [*(jobs_table.c[name] for name in JOB_COLUMNS), null().label("image_n")]


class BatchRows:
    """The export rows of one batch."""

    def __init__(self, engine: Engine, batch_id: str, model: ModelAdapter | None = None) -> None:
        """`model`: the adapter whose columns the rows show; the batch's own unless given (a
        test's model); UnknownModel when no adapter answers to the batch's."""
        self.engine = engine
        self.batch_id = batch_id
        self.model = model or model_named(self._model_name())

    def rows(self, *, succeeded_only: bool = False) -> Iterator[dict[str, Any]]:
        """Every stored image's export row, and every job without one (or only the images), in
        manifest order."""
        query = select(*_JOB_ROW_COLUMNS).order_by(jobs_table.c.line, jobs_table.c.id)
        if self._has_several_images():
            query = (
                select(*_ROW_COLUMNS)
                .select_from(jobs_table.outerjoin(_IMAGES, _ITS_IMAGES))
                .order_by(jobs_table.c.line, jobs_table.c.id, _IMAGES.c.n)
            )
        for job in self._stream(query, succeeded_only):
            yield export_row(job, self.model)

    def metadata_columns(self, *, succeeded_only: bool = False) -> MetadataColumns:
        """The first pass of a flat export: every metadata name and the kind of its values."""
        query = select(jobs_table.c.metadata).order_by(jobs_table.c.line, jobs_table.c.id)
        return MetadataColumns.of(job["metadata"] for job in self._stream(query, succeeded_only))

    def _has_several_images(self) -> bool:
        """Whether a job of the batch has rows in `job_images`: one probe of its primary key per
        job at most, and none past the first found."""
        batch_jobs = select(jobs_table.c.id).where(jobs_table.c.batch_id == self.batch_id)
        query = select(_IMAGES.c.job_id).where(_IMAGES.c.job_id.in_(batch_jobs)).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def _model_name(self) -> str:
        query = select(batches_table.c.model).where(batches_table.c.id == self.batch_id)
        with self.engine.connect() as conn:
            return str(conn.execute(query).scalar_one())

    def _stream(self, query: Select[Any], succeeded_only: bool) -> Iterator[Any]:
        query = query.where(jobs_table.c.batch_id == self.batch_id)
        if succeeded_only:
            query = query.where(jobs_table.c.state == JobState.succeeded.value)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=CHUNK_ROWS).execute(query)
            for row in result:
                yield row._mapping
