"""Waiting for a batch and saying how it went: the summary `run` prints and `status` shows."""

import time
from dataclasses import asdict, dataclass, field

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from jobs.results import Batch, ResultsTable
from jobs.states import TERMINAL_STATES, JobState

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
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts[state.value] for state in TERMINAL_STATES)

    def as_json(self) -> dict[str, object]:
        return asdict(self) | {"total": self.total, "finished": self.finished}

    def render(self) -> str:
        counts = ", ".join(f"{state} {n}" for state, n in self.counts.items() if n)
        lines = [
            f"batch {self.batch}: {self.total} jobs ({counts or 'none'}), "
            f"{self.rejected} rows rejected, spend ${self.spend_usd:.2f}",
            f"images: {self.output.rstrip('/')}/{self.batch}/",
        ]
        lines += [f"  {e['class']}: {e['count']} (e.g. {e['example']})" for e in self.errors]
        return "\n".join(lines)


def wait_for_batch(table: ResultsTable, batch: Batch, show_progress: bool) -> BatchSummary:
    """Block until every job of the batch is final, with a progress bar when asked for."""
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
            if finished == total:
                return BatchSummary.of(table, batch)
            time.sleep(POLL_INTERVAL_S)
