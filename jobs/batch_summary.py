"""A batch's standing, for people (`render`) and scripts (`as_json`): what `status` prints, and
what a webhook carries (`worker.notify`), so it is here in `jobs/`, shared by both sides.

What a batch shows (`running`, `completed`, `paused`, `cancelled`) is derived from its stored
state and its jobs' states, not stored: the stored state is a gate (may its jobs run?) that only
people and pauses change, while `completed` follows from the last job finishing, and stops
being true when `retry` reopens a failed job. Storing it would make every finishing job check
and write the batch's row, and every reopening reset it.

The pace is one figure: images succeeded over the last PACE_WINDOW of the batch's work (up to
now while it runs, up to its last finished job once it does not), so a night spent paused or
waiting for workers does not drag it down. The ETA is what is left at the pace jobs finished
over that window, shown only while the batch runs and some job finished within it.

Beside it, the batch's share of the fleet right now (jobs.fleet_shares) and the time left if
that share of the provider's limit held. `likely_eta` says which of the two `status` lists.
"""

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from jobs.fleet_shares import FleetShare, FleetShares
from jobs.kept_summaries import Errors
from jobs.records import BatchProgress
from jobs.results import Batch, ResultsTable
from jobs.states import TERMINAL_STATES, BatchState, JobState
from jobs.wording import counted

#: the span the pace is measured over: long enough to smooth the bursts of many threads
#: returning at once, short enough to follow a change (a 429 cool-down, a worker added) within
#: minutes; a batch with no job finished in it has no ETA
PACE_WINDOW = timedelta(minutes=5)
#: how the pace is labelled wherever it is shown, in full and in a column or a bar
PACE_LABEL = f"images/s over the last {PACE_WINDOW.seconds // 60} min of work"
PACE_SHORT_LABEL = f"img/s ({PACE_WINDOW.seconds // 60} min)"


class Shown(StrEnum):
    """What `status` says a batch is doing (paused and cancelled are its stored states)."""

    #: some job is not final and workers may take it
    running = "running"
    #: every job is final: succeeded, failed or cancelled
    completed = "completed"
    #: no job starts until `resume`; `paused_reason` says why and what to do
    paused = BatchState.paused.value
    #: `cancel` stopped it
    cancelled = BatchState.cancelled.value


def shown_state(batch: Batch, progress: BatchProgress) -> Shown:
    """The batch's state as `status` shows it."""
    if batch.state is not BatchState.active:
        return Shown(batch.state.value)
    return Shown.completed if progress.finished == progress.total else Shown.running


@dataclass
class BatchSummary:
    """Everything `status BATCH` shows."""

    batch: str
    output: str
    counts: dict[str, int]
    rejected: int
    spend_usd: float
    errors: list[dict[str, object]] = field(default_factory=list)
    #: jobs completed by copying an image already paid for (no call), and what they saved
    reused: int = 0
    saved_usd: float = 0.0
    #: a Shown (running, completed, paused, cancelled), and why it is paused when it is
    state: str = Shown.running.value
    paused_reason: str | None = None
    #: the most images the batch may pay for (None = no budget), and those paid for or in flight
    image_cap: int | None = None
    budget_used: int = 0
    created_at: str | None = None
    started_at: str | None = None
    #: images succeeded per second over the last `pace_window_s` of work; None before the first
    images_per_s: float | None = None
    pace_window_s: int = int(PACE_WINDOW.total_seconds())
    #: seconds left at the recent pace, while the batch runs and jobs finish
    eta_s: float | None = None
    #: how it shares the fleet: its weight, its cap on jobs sent or running and those out now
    weight: float = 1.0
    max_in_flight: int | None = None
    in_flight: int = 0
    #: its part of the fleet right now (0 while paused, or with no work due or out)
    fleet_share: float = 0.0
    #: the calls per second that part of the provider's limit allows (None: no limit)
    share_calls_per_s: float | None = None
    #: seconds left if it kept that many calls per second
    share_eta_s: float | None = None

    @classmethod
    def of(
        cls,
        table: ResultsTable,
        batch: Batch,
        *,
        with_errors: bool = True,
        shares: FleetShares | None = None,
    ) -> "BatchSummary":
        """The batch's summary; `shares` read once for many batches (else read here, with no
        provider limit known: no ETA from the share)."""
        now = datetime.now(UTC)
        if shares is None:
            shares = FleetShares.read(table.engine, now, math.inf)
        progress, errors = table.kept_summary(batch.id) or _counted(table, batch, now, with_errors)
        shown = shown_state(batch, progress)
        pace = Pace.of(batch, progress, shown, now)
        errors = errors if with_errors else []
        share = shares.of(batch) if shown is Shown.running else FleetShare(0.0, None)
        share_eta = share.eta_s(progress.total - progress.finished)
        return cls(
            batch=batch.id,
            output=batch.output,
            counts={state.value: count for state, count in progress.counts.items()},
            rejected=batch.rejected,
            spend_usd=round(progress.spend_usd, 4),
            reused=progress.reused,
            saved_usd=round(progress.saved_usd, 4),
            errors=[{"class": c, "count": n, "example": example} for c, n, example in errors],
            state=shown.value,
            paused_reason=batch.paused_reason,
            image_cap=batch.image_cap,
            budget_used=batch.budget_used,
            created_at=_iso(batch.created_at),
            started_at=_iso(batch.started_at),
            images_per_s=None if pace.images_per_s is None else round(pace.images_per_s, 3),
            eta_s=_rounded(pace.eta_s),
            weight=batch.share.weight,
            max_in_flight=batch.share.max_in_flight,
            in_flight=shares.in_flight.get(batch.id, 0),
            fleet_share=round(share.fraction, 4),
            share_calls_per_s=_rounded(share.calls_per_s, 3),
            share_eta_s=_rounded(share_eta),
        )

    @property
    def likely_eta_s(self) -> float | None:
        """The time left `status` lists: the later of the two estimates, as each errs early for
        its own reason. The pace lags: a batch whose share just shrank (a heavier batch joined)
        keeps its old pace for minutes. The share assumes the fleet runs at the provider's limit
        and every call succeeds: too few threads, slow calls, retries or a cap on jobs in
        flight hold a batch below it, which only the pace shows. Either alone, when the other
        is unknown (no job finished lately; no limit set)."""
        known = [eta for eta in (self.eta_s, self.share_eta_s) if eta is not None]
        return max(known) if known else None

    @property
    def share_label(self) -> str:
        """Its share as a listing shows it: `75%`, `25% cap 2`, `paused`, or `-` when it is not
        running."""
        if self.state == Shown.paused.value:
            return "paused"
        if self.state != Shown.running.value:
            return "-"
        cap = "" if self.max_in_flight is None else f" cap {self.max_in_flight}"
        return f"{self.fleet_share:.0%}{cap}"

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def finished(self) -> int:
        return sum(self.counts[s] for s in ("succeeded", "failed", "cancelled"))

    def as_json(self) -> dict[str, object]:
        return asdict(self) | {"total": self.total, "finished": self.finished}

    def render(self) -> str:
        counts = ", ".join(f"{state} {n}" for state, n in self.counts.items() if n)
        budget = "" if self.image_cap is None else f" (budget {counted(self.image_cap, 'image')})"
        lines = [
            f"batch {self.batch}: {counted(self.total, 'job')} ({counts or 'none'}), "
            f"{counted(self.rejected, 'row')} rejected, spend ${self.spend_usd:.2f}{budget}",
            f"images: {self.output.rstrip('/')}/{self.batch}/",
        ]
        if self.reused:
            lines.append(
                f"reused: {counted(self.reused, 'job')} copied an image already paid for, "
                f"saving ${self.saved_usd:.2f}"
            )
        if self.state == Shown.paused.value:
            lines.append(f"PAUSED: {self.paused_reason}")
        else:
            lines.append(f"state: {self.state}")
        if self.images_per_s is not None:
            pace = f"{self.images_per_s:.2f} {PACE_LABEL}"
            left = "" if self.eta_s is None else f", about {duration(self.eta_s)} left"
            lines.append(pace + left)
        if self.state in (Shown.running.value, Shown.paused.value):
            lines.append(self._share_line())
        lines += [f"  {e['class']}: {e['count']} (e.g. {e['example']})" for e in self.errors]
        return "\n".join(lines)

    def _share_line(self) -> str:
        """`share: weight 3, 75% of the fleet now (7.50 calls/s), about 2m 10s left at that
        share; at most 2 in flight (2 out)`."""
        line = f"share: weight {self.weight:g}, "
        if self.state == Shown.paused.value:
            line += "none while paused"
        else:
            line += f"{self.fleet_share:.0%} of the fleet now"
            if self.share_calls_per_s is not None:
                line += f" ({self.share_calls_per_s:.2f} calls/s)"
            if self.share_eta_s is not None:
                line += f", about {duration(self.share_eta_s)} left at that share"
        if self.max_in_flight is not None:
            line += f"; at most {self.max_in_flight} in flight ({self.in_flight} out)"
        return line


@dataclass(frozen=True)
class Pace:
    """How fast a batch goes: images/s over its recent work, and the time left at that pace."""

    #: None before its first image
    images_per_s: float | None
    #: None unless it runs and some job finished within the window
    eta_s: float | None

    @classmethod
    def of(cls, batch: Batch, progress: BatchProgress, shown: Shown, now: datetime) -> "Pace":
        """From `progress` read with `since` at the window's start: the window ends now while the
        batch runs, else at its last finished job, and starts no earlier than its first claim."""
        running = shown is Shown.running
        end = now if running else progress.last_finished_at
        start = progress.since
        if batch.started_at is None or end is None or start is None:
            return cls(None, None)
        if not progress.counts[JobState.succeeded]:
            return cls(None, None)
        span = max((end - max(start, batch.started_at)).total_seconds(), 1e-3)
        finished = sum(progress.recent.get(state, 0) for state in TERMINAL_STATES)
        unfinished = progress.total - progress.finished
        eta = unfinished * span / finished if running and finished and unfinished else None
        return cls(progress.recent.get(JobState.succeeded, 0) / span, eta)


def duration(seconds: float | None) -> str:
    """`2h 05m`, `3m 20s`, `45s`: a span as people read it."""
    if seconds is None:
        return "-"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _counted(
    table: ResultsTable, batch: Batch, now: datetime, with_errors: bool
) -> tuple[BatchProgress, Errors]:
    """The batch's figures counted from its jobs (its errors too, when asked for), kept on its
    row once none of them is unfinished (jobs.kept_summaries), errors included."""
    progress = table.progress(batch.id, since=now - PACE_WINDOW)
    if shown_state(batch, progress) is not Shown.running and progress.last_finished_at is not None:
        # its pace is that of its last minutes of work, not of the time since
        progress = table.progress(batch.id, since=progress.last_finished_at - PACE_WINDOW)
    final = progress.total > 0 and progress.finished == progress.total
    errors = table.error_summary(batch.id) if with_errors or final else []
    if final:
        table.keep_summary(batch.id, progress, errors)
    return progress, errors


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
