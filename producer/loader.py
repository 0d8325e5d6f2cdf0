"""Turning a manifest into a batch: validate every row, record the good ones as due jobs.

The table is the queue (jobs.dispatch): recording a job is all it takes for the dispatcher to
send it in its batch's turn, and each recorded chunk wakes the dispatcher. Rows stream through in
chunks. While this thread reads and validates the next chunk, a second thread records the last
one (one transaction): the database does its part of the work on the other core, and the GIL is
released while it does. At most CHUNKS_AHEAD chunks wait to be stored, so memory is flat
whatever the size of the manifest, and the first images start while the rest is still loading.

A chunk ends at CHUNK_ROWS rows or once what its rows hold in memory passes CHUNK_BYTES
(`_weight`: its text, inline images, a price per metadata value), whichever comes first, so a
chunk of rows carrying images or bulky metadata is as small in memory as one of plain rows.

Bad rows (a repeated key among them: the reader refuses it) are reported a chunk at a time, once
the chunk is recorded, in the manifest's order.
"""

import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from jobs.dispatch import Wake
from jobs.results import Batch, ResultsTable
from jobs.spec import JobSpec
from producer.manifest import ManifestReader, RejectedRow

#: rows per INSERT: past a few thousand, a bigger chunk saves nothing
CHUNK_ROWS = 5000
#: A chunk also ends once its rows weigh this much (`_weight`, about their bytes in memory). With
#: CHUNKS_AHEAD + 2 chunks alive at once (read, waiting, storing) this bounds loading memory to
#: ~100 MB, whatever the rows hold; one row may be 13 MB alone (an inline image).
CHUNK_BYTES = 16 * 1024 * 1024
#: What a row costs in memory besides its strings (a JobSpec, its model input, their dicts), and
#: what one metadata value costs (a Python list or dict is 56-64 bytes, plus its slot)
_ROW_BYTES = 1024
_VALUE_BYTES = 72
#: How long the reading thread may hold the GIL while the storing thread waits for it, during a
#: load (Python's default is 5 ms). The storing thread gives the GIL up at every round trip to
#: the database (a dozen a chunk, and one per 32 KB of COPY data) and then waited out the whole
#: interval to get it back: with 5 ms, storing a chunk of 5,000 rows took 60 µs a row, of which
#: PostgreSQL needed 21, and the reader stood waiting for it. With 0.5 ms the reader is the
#: slower side again (bench/submission.py: 14,400 to 21,800 rows/s).
STORING_SWITCH_INTERVAL_S = 0.0005
#: chunks read and validated ahead of the one being stored
CHUNKS_AHEAD = 2

#: why a batch loaded with --strict waits while it loads
STRICT_LOADING = "loading with --strict: its jobs run once every row is known to be valid"


def strict_batch_loading(table: ResultsTable, batch: Batch) -> None:
    """Hold a batch loaded with --strict until its last row is read: none of its jobs may run
    before the manifest is known to be valid (load_manifest then resumes or cancels it)."""
    table.pause(batch.id, STRICT_LOADING)


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
    #: --strict and some rows were bad: nothing ran and the loaded jobs are cancelled
    refused: bool = False


def load_manifest(
    table: ResultsTable,
    batch: Batch,
    reader: ManifestReader,
    wake: Wake,
    on_reject: OnReject,
    *,
    strict: bool = False,
    progress: LoadProgress | None = None,
) -> LoadReport:
    """Record every valid row `reader` yields as a queued job of `batch`, waking the
    dispatcher (`wake`) as each chunk is recorded.

    Every bad row (invalid field, duplicate key) goes to `on_reject`. With `strict`, one bad row
    refuses the manifest: the rows are recorded, but cancelled, and nothing runs (the caller
    pauses the batch while it loads: `strict_batch_loading`).
    """
    report = LoadReport(batch)
    shown = progress or _NoProgress()

    def reject(row: RejectedRow) -> None:
        report.rejected += 1
        on_reject(row)

    def store(chunk: _Chunk) -> int:
        """On the storing thread: record the chunk, and have its jobs sent."""
        recorded = len(table.add_jobs(batch.id, chunk.jobs))
        if not strict:
            wake()
        return recorded

    def stored(chunk: _Chunk, outcome: "Future[int]") -> None:
        recorded = outcome.result()
        report.loaded += recorded
        for row in chunk.rejected:
            reject(row)
        shown.advance(enqueued=0 if strict else recorded)

    storing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="seedream-store")
    pending: deque[tuple[_Chunk, Future[int]]] = deque()
    try:
        with _short_switch_interval():
            for chunk in _chunks(reader, shown):
                pending.append((chunk, storing.submit(store, chunk)))
                if len(pending) > CHUNKS_AHEAD:
                    stored(*pending.popleft())
            while pending:
                stored(*pending.popleft())
    finally:
        # after a failure, chunks not yet stored are dropped: what was stored runs
        storing.shutdown(wait=True, cancel_futures=True)
    table.add_rejected(batch.id, report.rejected)
    if strict:
        _settle_strict(table, report, wake, shown)
    return report


@contextmanager
def _short_switch_interval() -> Iterator[None]:
    """Python's thread switch interval at STORING_SWITCH_INTERVAL_S, then as it was."""
    was = sys.getswitchinterval()
    sys.setswitchinterval(STORING_SWITCH_INTERVAL_S)
    try:
        yield
    finally:
        sys.setswitchinterval(was)


def _settle_strict(
    table: ResultsTable, report: LoadReport, wake: Wake, shown: LoadProgress
) -> None:
    """A strict load recorded its rows in a paused batch: refuse the batch if any row was bad,
    else let it run now."""
    batch_id = report.batch.id
    if report.rejected:
        table.cancel(batch_id)
        report.refused = True
    else:
        table.resume(batch_id)
        wake()
        shown.advance(enqueued=report.loaded)


@dataclass
class _Chunk:
    """Rows read in a row: the valid ones to record, and those rejected while reading them."""

    jobs: list[JobSpec] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)


def _chunks(rows: Iterable[JobSpec | RejectedRow], progress: LoadProgress) -> Iterator[_Chunk]:
    """The jobs and rejected rows in chunks of CHUNK_ROWS or CHUNK_BYTES, whichever comes first;
    `progress` is told of manifest rows (a row's variants after the first are not rows read)."""
    chunk = _Chunk()
    items = read = rejected = weight = 0
    for row in rows:
        items += 1
        if isinstance(row, RejectedRow):
            read += 1
            rejected += 1
            chunk.rejected.append(row)
        else:
            if row.variant is None or row.variant == 1:
                read += 1
            chunk.jobs.append(row)
        weight += _weight(row)
        if items >= CHUNK_ROWS or weight >= CHUNK_BYTES:
            progress.advance(read=read, rejected=rejected)
            items = read = rejected = weight = 0
            yield chunk
            chunk = _Chunk()
    progress.advance(read=read, rejected=rejected)
    if chunk.jobs or chunk.rejected:
        yield chunk


def _weight(row: JobSpec | RejectedRow) -> int:
    """About what `row` holds in memory, in bytes (see CHUNK_BYTES)."""
    if isinstance(row, RejectedRow):
        return _ROW_BYTES + len(row.raw)
    shape = row.metadata_shape
    return _ROW_BYTES + row.input.text_chars() + shape.chars + _VALUE_BYTES * shape.values
