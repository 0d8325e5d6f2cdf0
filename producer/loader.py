"""Turning a manifest into a batch: validate every row, record the good ones, enqueue them.

Rows stream through in chunks (one INSERT per chunk, then one message per new job), so memory is
flat whatever the manifest's size and the first images start while the rest is still loading.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from jobs.results import Batch, Duplicate, ResultsTable
from jobs.spec import JobSpec
from producer.manifest import ManifestReader, RejectedRow, RowProblem
from producer.rejects import spec_as_row_text

#: rows per INSERT and per round of enqueueing
CHUNK_SIZE = 500

Enqueue = Callable[[list[int]], None]
OnReject = Callable[[RejectedRow], None]


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
) -> LoadReport:
    """Record every valid row `reader` yields as a queued job of `batch` and enqueue it.

    Every bad row (invalid field, duplicate key) goes to `on_reject`. With `strict`, one bad row
    refuses the manifest: the rows are recorded, but cancelled, and nothing is enqueued.
    """
    report = LoadReport(batch)
    chunk: list[JobSpec] = []

    def flush() -> None:
        ids, duplicates = table.add_jobs(batch.id, chunk)
        report.loaded += len(ids)
        for duplicate in duplicates:
            reject(_duplicate_rejection(reader, duplicate))
        if not strict:
            enqueue(ids)
        chunk.clear()

    def reject(row: RejectedRow) -> None:
        report.rejected += 1
        on_reject(row)

    for row in reader:
        if isinstance(row, RejectedRow):
            reject(row)
            continue
        chunk.append(row)
        if len(chunk) >= CHUNK_SIZE:
            flush()
    flush()
    table.add_rejected(batch.id, report.rejected)
    if strict:
        if report.rejected:
            table.cancel_unfinished(batch.id)
            report.refused = True
        else:
            enqueue_unfinished(table, batch.id, enqueue)
    return report


def enqueue_unfinished(table: ResultsTable, batch_id: str, enqueue: Enqueue) -> int:
    """Enqueue every job of the batch that is not final and not leased; returns how many."""
    count = 0
    for ids in _chunks(table.unfinished_job_ids(batch_id), CHUNK_SIZE):
        enqueue(ids)
        count += len(ids)
    return count


def _chunks(ids: Iterable[int], size: int) -> Iterable[list[int]]:
    chunk: list[int] = []
    for job_id in ids:
        chunk.append(job_id)
        if len(chunk) == size:
            yield chunk
            chunk = []
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
