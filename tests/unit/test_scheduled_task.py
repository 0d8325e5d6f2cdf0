"""The task beat sends runs the starter the CLI installed, and refuses loudly without one."""

from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from config.settings import Settings
from jobs.dispatch import Wake
from jobs.results import ResultsTable
from jobs.schedules import Schedule
from worker import scheduled

FIRE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SCHEDULE = Schedule(name="daily", cron="0 9 * * *", manifest="jobs.jsonl", batch="d-{date:%Y%m%d}")


@dataclass(frozen=True)
class Done:
    outcome: str


@pytest.fixture
def no_starter(monkeypatch: pytest.MonkeyPatch) -> None:
    """No starter installed, and a pipeline whose table the task only hands on."""
    monkeypatch.setattr(scheduled, "_starter", None)
    monkeypatch.setattr(scheduled, "get_pipeline", lambda: SimpleNamespace(table="the table"))


def _fire() -> Any:
    return scheduled.start_scheduled(SCHEDULE.model_dump(mode="json"), FIRE.isoformat())


@pytest.mark.usefixtures("no_starter")
def test_a_fire_runs_the_installed_starter_with_the_schedule_and_fire_time() -> None:
    fires: list[tuple[Any, Schedule, datetime]] = []

    def starter(
        table: ResultsTable, settings: Settings, schedule: Schedule, at: datetime, _: Wake
    ) -> Done:
        fires.append((table, schedule, at))
        return Done("started")

    scheduled.install_batch_starter(starter)

    assert _fire() == "started"
    assert fires == [("the table", SCHEDULE, FIRE)]


@pytest.mark.usefixtures("no_starter")
def test_a_worker_started_without_a_starter_fails_the_fire_saying_how_to_start_it() -> None:
    with pytest.raises(scheduled.NoBatchStarter, match="seedream-batch worker"):
        _fire()
