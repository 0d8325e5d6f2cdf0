"""Turning a manifest into a batch: validate every row, record the good ones, enqueue them.

Rows stream through in chunks. While this thread reads and validates the next chunk, a second
thread records the last one (one transaction) and enqueues its new jobs (one round trip): the
database and Redis do their part of the work on the other core, and the GIL is released while
they do. At most CHUNKS_AHEAD chunks wait to be stored, so memory is flat whatever the size of the
manifest, and the first images start while the rest is still loading.

Bad rows are reported as they are read; a duplicate key is found when its chunk is recorded, so
its report comes a chunk or two later.
"""

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from jobs.recovery import Enqueue
from jobs.results import Batch, Duplicate, ResultsTable
from jobs.spec import JobSpec
from producer.manifest import ManifestReader, RejectedRow, RowProblem
from producer.rejects import spec_as_row_text

#: rows per INSERT and per round of enqueueing: past a few thousand, a bigger chunk saves nothing
CHUNK_ROWS = 5000
#: a chunk also ends once its inline images pass this size (one row may carry a 13 MB data URI)
CHUNK_IMAGE_CHARS = 64 * 1024 * 1024
#: chunks read and validated ahead of the one being stored
CHUNKS_AHEAD = 2

OnReject = Callable[[RejectedRow], None]


class LoadProgress(Protocol):
    """Told how loading goes, a chunk at a time."""

    def advance(self, *, read: int = 0, rejected: int = 0, enqueued: int = 0) -> None: ...


class _NoProgress:
    def advance(self, *, read: int = 0, rejected: int = 0, enqueued: int = 0) -> None:
        pass


@dataclass
class LoadReport:
    """What loading a manifest did."""

    batch: Batch
    loaded: int = 0
    rejected: int = 0
    #: --strict and some rows were bad: nothing was enqueued and the loaded jobs are cancelled
    refused: bool = False


def load_manifest(
    table: ResultsTable,
    batch: Batch,
    reader: ManifestReader,
    enqueue: Enqueue,
    on_reject: OnReject,
    *,
    strict: bool = False,
    progress: LoadProgress | None = None,
) -> LoadReport:
    """Record every valid row `reader` yields as a queued job of `batch` and enqueue it.

    Every bad row (invalid field, duplicate key) goes to `on_reject`. With `strict`, one bad row
    refuses the manifest: the rows are recorded, but cancelled, and nothing is enqueued.
    """
    report = LoadReport(batch)
    shown = progress or _NoProgress()

    def reject(row: RejectedRow) -> None:
        report.rejected += 1
        on_reject(row)

    def store(chunk: list[JobSpec]) -> tuple[list[int], list[Duplicate]]:
        """On the storing thread: record the chunk, enqueue its new jobs."""
        ids, duplicates = table.add_jobs(batch.id, chunk)
        if not strict:
            enqueue(ids)
        return ids, duplicates

    def stored(outcome: "Future[tuple[list[int], list[Duplicate]]]") -> None:
        ids, duplicates = outcome.result()
        report.loaded += len(ids)
        for duplicate in duplicates:
            reject(_duplicate_rejection(reader, duplicate))
        shown.advance(rejected=len(duplicates), enqueued=0 if strict else len(ids))

    storing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seedream-store")
    pending: deque[Future[tuple[list[int], list[Duplicate]]]] = deque()
    try:
        for chunk in _chunks(reader, reject, shown):
            pending.append(storing.submit(store, chunk))
            if len(pending) > CHUNKS_AHEAD:
                stored(pending.popleft())
        while pending:
            stored(pending.popleft())
    finally:
        # after a failure, chunks not yet stored are dropped: `resume` enqueues what was stored
        storing.shutdown(wait=True, cancel_futures=True)
    table.add_rejected(batch.id, report.rejected)
    if strict:
        if report.rejected:
            table.cancel(batch.id)
            report.refused = True
        else:
            table.resume(batch.id)
            shown.advance(enqueued=table.enqueue_due(enqueue, batch_id=batch.id))
    return report


def _chunks(
    rows: Iterable[JobSpec | RejectedRow], reject: OnReject, progress: LoadProgress
) -> Iterator[list[JobSpec]]:
    """The valid rows in chunks of CHUNK_ROWS (fewer when they carry large inline images)."""
    chunk: list[JobSpec] = []
    read = rejected = image_chars = 0
    for row in rows:
        read += 1
        if isinstance(row, RejectedRow):
            rejected += 1
            reject(row)
            continue
        chunk.append(row)
        image_chars += len(row.input.image or "")
        if len(chunk) >= CHUNK_ROWS or image_chars >= CHUNK_IMAGE_CHARS:
            progress.advance(read=read, rejected=rejected)
            read = rejected = image_chars = 0
            yield chunk
            chunk = []
    progress.advance(read=read, rejected=rejected)
    if chunk:
        yield chunk


def _duplicate_rejection(reader: ManifestReader, duplicate: Duplicate) -> RejectedRow:
    spec = duplicate.spec
    problem = RowProblem(
        "id",
        f"duplicate key {spec.key!r}: line {duplicate.first_line} has it already; "
        "keys must be unique in a batch",
    )
    raw = spec_as_row_text(spec, reader.format, reader.header)
    return RejectedRow(str(reader.path), spec.line, (problem,), raw=raw)
