"""Showing people how a batch goes: loading its manifest, waiting for it, the summary of it.

The live displays are rich progress bars on stderr, shown only on a terminal (never in a pipe, a
log or a test); the summaries are plain lines.
"""

import time
from dataclasses import asdict, dataclass, field
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

from jobs.results import Batch, ResultsTable
from jobs.states import TERMINAL_STATES, BatchState, JobState
from producer.manifest import ManifestReader

#: how often the waiting CLI reads the table; a COUNT per state is cheap at this rate
POLL_INTERVAL_S = 0.5


@dataclass
class BatchSummary:
    """A batch's standing, for people (`render`) and scripts (`as_json`)."""

    batch: str
    output: str
    counts: dict[str, int]
    rejected: int
    spend_usd: float
    errors: list[dict[str, object]] = field(default_factory=list)
    #: jobs.states.BatchState, and why it is paused when it is
    state: str = BatchState.active.value
    paused_reason: str | None = None
    #: the most images the batch may pay for (None = no budget), and those paid for or in flight
    image_cap: int | None = None
    budget_used: int = 0

    @classmethod
    def of(cls, table: ResultsTable, batch: Batch) -> "BatchSummary":
        return cls(
            batch=batch.id,
            output=batch.output,
            counts={state.value: count for state, count in table.counts(batch.id).items()},
            rejected=batch.rejected,
            spend_usd=round(table.spend(batch.id), 4),
            errors=[
                {"class": cls_, "count": count, "example": example}
                for cls_, count, example in table.error_summary(batch.id)
            ],
            state=batch.state.value,
            paused_reason=batch.paused_reason,
            image_cap=batch.image_cap,
            budget_used=batch.budget_used,
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts[state.value] for state in TERMINAL_STATES)

    @property
    def exit_code(self) -> int:
        """What a command that waited for the batch exits with: 3 paused, 1 some jobs failed,
        0 otherwise (every job succeeded or was cancelled)."""
        if self.state == BatchState.paused.value:
            return 3
        return 1 if self.counts[JobState.failed.value] else 0

    def as_json(self) -> dict[str, object]:
        return asdict(self) | {"total": self.total, "finished": self.finished}

    def render(self) -> str:
        counts = ", ".join(f"{state} {n}" for state, n in self.counts.items() if n)
        budget = "" if self.image_cap is None else f" (budget {self.image_cap} images)"
        lines = [
            f"batch {self.batch}: {self.total} jobs ({counts or 'none'}), "
            f"{self.rejected} rows rejected, spend ${self.spend_usd:.2f}{budget}",
            f"images: {self.output.rstrip('/')}/{self.batch}/",
        ]
        if self.state == BatchState.paused.value:
            lines.append(
                f"PAUSED: {self.paused_reason}; fix it, then `seedream-batch resume {self.batch}`"
            )
        elif self.state == BatchState.cancelled.value:
            lines.append("cancelled")
        lines += [f"  {e['class']}: {e['count']} (e.g. {e['example']})" for e in self.errors]
        return "\n".join(lines)


def wait_for_batch(table: ResultsTable, batch: Batch, show_progress: bool) -> BatchSummary:
    """Block until every job of the batch is final, or the batch is paused and none of its jobs
    is running any more, with a progress bar when asked for."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.2f} img/s"),
        TimeElapsedColumn(),
    )
    started = time.monotonic()
    with Progress(*columns, disable=not show_progress, transient=False) as progress:
        bar = progress.add_task(batch.id, total=None, rate=0.0)
        while True:
            # only the counts while waiting: spend and errors are summed once, at the end
            counts = table.counts(batch.id)
            total = sum(counts.values())
            finished = sum(counts[state] for state in TERMINAL_STATES)
            rate = counts[JobState.succeeded] / max(time.monotonic() - started, 1e-6)
            progress.update(bar, total=total, completed=finished, rate=rate)
            if finished == total or (counts[JobState.running] == 0 and _paused(table, batch)):
                return BatchSummary.of(table, table.get_batch(batch.id) or batch)
            time.sleep(POLL_INTERVAL_S)


def _paused(table: ResultsTable, batch: Batch) -> bool:
    now = table.get_batch(batch.id)
    return now is not None and now.state is BatchState.paused


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
