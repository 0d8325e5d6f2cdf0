"""Showing people how a batch goes: loading its manifest, waiting for it, the summary of it.

The live displays are rich progress bars on stderr, shown only on a terminal (never in a pipe, a
log or a test); the summaries are plain lines.
"""

import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from jobs.batch_summary import PACE_LABEL, PACE_SHORT_LABEL, BatchSummary, duration
from jobs.results import Batch, ResultsTable
from jobs.states import BatchState
from producer.manifest import ManifestReader

#: how often a waiting command reads the table, at least: a batch of millions, whose counts take
#: a while to add up, is read less often (see _Poll)
POLL_INTERVAL_S = 0.5
#: how often `status --watch` prints a line when stderr is not a terminal
WATCH_LINE_INTERVAL_S = 10.0


def wait_for_batch(
    table: ResultsTable, batch: Batch, show_progress: bool, *, lines: bool = False
) -> BatchSummary:
    """Block until every job of the batch is final, or the batch is paused and none of its jobs
    is running any more. With `show_progress`, a live bar on stderr: jobs final, images/s, spend,
    time left; otherwise, with `lines`, one line of the same every WATCH_LINE_INTERVAL_S."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} " + PACE_SHORT_LABEL),
        TextColumn("${task.fields[spend]:.2f}"),
        TextColumn("{task.fields[left]} left"),
        TimeElapsedColumn(),
    )
    console = Console(stderr=True)
    poll = _Poll()
    last_line = time.monotonic()
    with Progress(*columns, console=console, disable=not show_progress) as display:
        bar = display.add_task(batch.id, total=None, rate=0.0, spend=0.0, left="-")
        while True:
            current, summary = poll.read(table, batch)
            display.update(
                bar,
                total=summary.total,
                completed=summary.finished,
                rate=summary.images_per_s or 0.0,
                spend=summary.spend_usd,
                left=duration(summary.eta_s),
            )
            paused = current.state is BatchState.paused and not summary.counts["running"]
            if summary.finished == summary.total or paused:
                return BatchSummary.of(table, current)
            if lines and not show_progress and time.monotonic() - last_line > WATCH_LINE_INTERVAL_S:
                last_line = time.monotonic()
                console.print(watch_line(summary), highlight=False, markup=False)
            poll.wait()


def watch_line(summary: BatchSummary) -> str:
    """What `status --watch` prints every WATCH_LINE_INTERVAL_S when stderr is not a terminal:
    the bar's figures, with the pace labelled in full."""
    rate = summary.images_per_s or 0.0
    return (
        f"batch {summary.batch}: {summary.finished}/{summary.total} final, "
        f"{rate:.2f} {PACE_LABEL}, "
        f"${summary.spend_usd:.2f}, {duration(summary.eta_s)} left"
    )


class _Poll:
    """Reads the batch, then waits five times as long as the read took (at least
    POLL_INTERVAL_S), so watching a huge batch never keeps the database busy."""

    def __init__(self) -> None:
        self._took = 0.0

    def read(self, table: ResultsTable, batch: Batch) -> tuple[Batch, BatchSummary]:
        """The batch as it is now, and its summary (without the error examples)."""
        started = time.monotonic()
        current = table.get_batch(batch.id) or batch
        summary = BatchSummary.of(table, current, with_errors=False)
        self._took = time.monotonic() - started
        return current, summary

    def wait(self) -> None:
        time.sleep(max(POLL_INTERVAL_S, 5 * self._took))


class LoadingProgress:
    """A live bar while a manifest loads: how far into the file, rows read a second, rows
    rejected, jobs enqueued. `loader.load_manifest` advances it a chunk at a time."""

    def __init__(self, reader: ManifestReader, show: bool) -> None:
        self._reader = reader
        self._started = time.monotonic()
        self._read = self._rejected = self._enqueued = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[read]:,} rows, {task.fields[rate]:,.0f}/s"),
            TextColumn("{task.fields[rejected]:,} rejected"),
            TextColumn("{task.fields[enqueued]:,} enqueued"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),  # stdout is for the batch name
            disable=not show,
            transient=True,
        )
        self._task: TaskID = self._progress.add_task(
            f"loading {reader.path.name}", total=reader.size, read=0, rate=0.0, rejected=0,
            enqueued=0,
        )  # fmt: skip

    def advance(self, *, read: int = 0, rejected: int = 0, enqueued: int = 0) -> None:
        self._read += read
        self._rejected += rejected
        self._enqueued += enqueued
        rate = self._read / max(time.monotonic() - self._started, 1e-6)
        self._progress.update(
            self._task,
            completed=self._reader.bytes_read,
            read=self._read,
            rate=rate,
            rejected=self._rejected,
            enqueued=self._enqueued,
        )

    def __enter__(self) -> "LoadingProgress":
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()
