"""Celery beat on the schedule file: one entry per schedule, fired on cronsim's times.

Beat's own crontab is not used: its time zone is the app's, one for all entries, and its next run
could differ from what `seedream-batch schedules` shows. CronTiming asks the Schedule itself,
in the schedule's own time zone. Each message carries the fire time (the latest cron time at or
before the moment beat sends it), from which the worker names the batch.

Beat keeps when each entry last ran in SEEDREAM_BEAT_STATE_FILE: after a restart a fire missed
while it was down runs once (named after the latest missed time), and none runs twice.
"""

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler, ScheduleEntry
from celery.schedules import BaseSchedule, schedstate

from jobs.schedules import Schedule
from worker.task_names import START_SCHEDULED_BATCH

#: beat looks at its entries at least this often, and marks itself alive each time
MAX_TICK_INTERVAL_S = 60.0


def heartbeat_path(state_file: str) -> Path:
    """The file beat touches on every tick: its age tells a health check beat is alive."""
    return Path(f"{state_file}.alive")


def _aware(moment: datetime) -> datetime:
    """Beat hands back naive UTC times from its state file."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class CronTiming(BaseSchedule):
    """When a schedule is due, for beat: its cron on its own clock."""

    def __init__(self, schedule: Schedule) -> None:
        super().__init__()
        self.spec = schedule

    def remaining_estimate(self, last_run_at: datetime) -> timedelta:
        return self.spec.next_run(_aware(last_run_at)) - datetime.now(UTC)

    def is_due(self, last_run_at: datetime) -> schedstate:
        """Due when a fire has come since the last run; beat looks again at the next fire."""
        now = datetime.now(UTC)
        upcoming = self.spec.next_run(_aware(last_run_at))
        due = upcoming <= now
        following = self.spec.next_run(now) if due else upcoming
        return schedstate(due, max((following - now).total_seconds(), 0.0))

    def __reduce__(self) -> tuple[type, tuple[Schedule]]:
        return self.__class__, (self.spec,)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CronTiming) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash(self.spec)


def beat_schedule(schedules: list[Schedule]) -> dict[str, dict[str, Any]]:
    """Celery's `beat_schedule`: one entry per schedule, carrying the schedule itself."""
    return {
        schedule.name: {
            "task": START_SCHEDULED_BATCH,
            "schedule": CronTiming(schedule),
            "kwargs": {"schedule": schedule.model_dump(mode="json")},
        }
        for schedule in schedules
    }


class ScheduleFileScheduler(PersistentScheduler):
    """Beat's persistent scheduler, adding each fire's time to the message it sends, and
    touching its heartbeat file on every tick (a process that is up but stuck is not healthy)."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        # set by PersistentScheduler.__init__ from beat's --schedule; celery-types omits it
        heartbeat_path(self.schedule_filename).touch()  # type: ignore[attr-defined]
        return float(super().tick(*args, **kwargs))

    def apply_async(
        self, entry: ScheduleEntry, producer: Any = None, advance: bool = True, **kwargs: Any
    ) -> Any:
        if isinstance(entry.schedule, CronTiming):
            fired_at = entry.schedule.spec.last_run(datetime.now(UTC))
            entry = copy.copy(entry)
            entry.kwargs = {**(entry.kwargs or {}), "fired_at": fired_at.isoformat()}
        return super().apply_async(entry, producer, advance, **kwargs)
