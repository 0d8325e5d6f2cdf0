"""A batch's standing, for people (`render`) and scripts (`as_json`): what `status` prints.

Throughput is succeeded images over the batch's running time, from its first claim to its last
finished job (or to now, while it runs); the ETA is what is left at that pace.
"""

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from jobs.records import BatchProgress
from jobs.results import Batch, ResultsTable
from jobs.states import BatchState, JobState
from producer.exit_codes import ExitCode


@dataclass
class BatchSummary:
    """Everything `status BATCH` shows."""

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
    created_at: str | None = None
    started_at: str | None = None
    #: succeeded images per second of running time; None before the first one
    images_per_s: float | None = None
    #: seconds left at that pace, while the batch runs
    eta_s: float | None = None

    @classmethod
    def of(cls, table: ResultsTable, batch: Batch, *, with_errors: bool = True) -> "BatchSummary":
        progress = table.progress(batch.id)
        rate = images_per_second(batch, progress, datetime.now(UTC))
        unfinished = progress.total - progress.finished
        running = batch.state is BatchState.active and unfinished > 0
        errors = table.error_summary(batch.id) if with_errors else []
        return cls(
            batch=batch.id,
            output=batch.output,
            counts={state.value: count for state, count in progress.counts.items()},
            rejected=batch.rejected,
            spend_usd=round(progress.spend_usd, 4),
            errors=[{"class": c, "count": n, "example": example} for c, n, example in errors],
            state=batch.state.value,
            paused_reason=batch.paused_reason,
            image_cap=batch.image_cap,
            budget_used=batch.budget_used,
            created_at=_iso(batch.created_at),
            started_at=_iso(batch.started_at),
            images_per_s=None if rate is None else round(rate, 3),
            eta_s=round(unfinished / rate, 1) if running and rate else None,
        )

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts[s] for s in ("succeeded", "failed", "cancelled"))

    @property
    def exit_code(self) -> ExitCode:
        """What a command that waited for the batch exits with (producer.exit_codes): cancelled,
        paused, incomplete (a job failed or a manifest row was rejected), or done."""
        if self.state == BatchState.cancelled.value:
            return ExitCode.cancelled
        if self.state == BatchState.paused.value:
            return ExitCode.paused
        if self.counts[JobState.failed.value] or self.rejected:
            return ExitCode.incomplete
        return ExitCode.done

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
        if self.images_per_s is not None:
            pace = f"{self.images_per_s:.2f} images/s"
            left = "" if self.eta_s is None else f", about {duration(self.eta_s)} left"
            lines.append(pace + left)
        if self.state == BatchState.paused.value:
            lines.append(
                f"PAUSED: {self.paused_reason}; fix it, then `seedream-batch resume {self.batch}`"
            )
        elif self.state == BatchState.cancelled.value:
            lines.append("cancelled")
        lines += [f"  {e['class']}: {e['count']} (e.g. {e['example']})" for e in self.errors]
        return "\n".join(lines)


def images_per_second(batch: Batch, progress: BatchProgress, now: datetime) -> float | None:
    """Succeeded images over the batch's running time: from its first claim to its last finished
    job when all are final, else to `now`. None before any image."""
    succeeded = progress.counts[JobState.succeeded]
    if batch.started_at is None or not succeeded:
        return None
    done = progress.finished == progress.total and progress.last_finished_at is not None
    end = progress.last_finished_at if done and progress.last_finished_at else now
    return succeeded / max((end - batch.started_at).total_seconds(), 1e-3)


def duration(seconds: float | None) -> str:
    """`2h 05m`, `3m 20s`, `45s`: a span as people read it."""
    if seconds is None:
        return "-"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
