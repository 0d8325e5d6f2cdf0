"""A schedule's fire against the real table (SQLite and PostgreSQL): a batch named after the fire
time, made once however often the fire arrives, and skipped while the last run still goes."""

import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from jobs.results import BatchExists, ResultsTable
from producer.scheduled_run import FireOutcome, start_scheduled_batch
from producer.schedules import Schedule
from tests.support.manifests import write_manifest
from tests.support.tables import MODEL, stored

FIRE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Sent:
    """The enqueue function: keeps every job id it was given."""

    def __init__(self) -> None:
        self.job_ids: list[int] = []
        self._lock = threading.Lock()

    def __call__(self, job_ids: Sequence[int]) -> None:
        with self._lock:
            self.job_ids.extend(job_ids)


@pytest.fixture
def schedule(tmp_path: Path) -> Schedule:
    write_manifest(tmp_path / "jobs.jsonl", good=3)
    return Schedule(
        name="daily",
        cron="0 9 * * *",
        manifest=str(tmp_path / "jobs.jsonl"),
        output=str(tmp_path / "out"),
        batch="daily-{date:%Y-%m-%d}",
        max_images=5,
    )


def _fire(table: ResultsTable, schedule: Schedule, at: datetime, sent: Sent) -> FireOutcome:
    return start_scheduled_batch(table, Settings(), schedule, at, sent).outcome


def _finish_all(table: ResultsTable, batch: str) -> None:
    for row in table.job_rows(batch):
        claim = table.claim(row["id"], "w", 60)
        assert claim is not None
        table.record_succeeded(claim, "w", stored())


def test_a_fire_makes_the_batch_named_after_its_time_and_records_the_schedule(
    table: ResultsTable, schedule: Schedule
) -> None:
    sent = Sent()

    assert _fire(table, schedule, FIRE, sent) is FireOutcome.started

    batch = table.get_batch("daily-2026-06-01")
    assert batch is not None and batch.schedule == "daily" and batch.max_images == 5
    assert batch.manifest == schedule.manifest
    assert len(sent.job_ids) == 3 and table.latest_of_schedule("daily") == batch


def test_the_same_fire_twice_makes_one_batch_and_enqueues_its_jobs_once(
    table: ResultsTable, schedule: Schedule
) -> None:
    sent = Sent()

    first = _fire(table, schedule, FIRE, sent)
    again = _fire(table, schedule, FIRE, sent)

    assert (first, again) == (FireOutcome.started, FireOutcome.exists)
    assert len(sent.job_ids) == 3


def test_two_processes_firing_at_once_make_one_batch(
    table: ResultsTable, schedule: Schedule
) -> None:
    sent, outcomes = Sent(), []
    start = threading.Barrier(2)

    def fire() -> None:
        start.wait()
        outcomes.append(_fire(table, schedule, FIRE, sent))

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [FireOutcome.exists, FireOutcome.started]
    assert len(sent.job_ids) == 3 and len(table.job_rows("daily-2026-06-01")) == 3


def test_the_name_is_taken_by_the_insert_so_a_late_second_maker_is_refused(
    table: ResultsTable,
) -> None:
    table.create_batch("taken", "m.jsonl", "out", MODEL)

    with pytest.raises(BatchExists, match="'taken' already exists"):
        table.create_batch("taken", "m.jsonl", "out", MODEL, schedule="daily")


def test_a_fire_while_the_previous_batch_still_runs_is_skipped_and_logged(
    table: ResultsTable, schedule: Schedule, caplog: pytest.LogCaptureFixture
) -> None:
    sent = Sent()
    _fire(table, schedule, FIRE, sent)

    skipped = _fire(table, schedule, FIRE + timedelta(days=1), sent)
    _finish_all(table, "daily-2026-06-01")
    later = _fire(table, schedule, FIRE + timedelta(days=2), sent)

    assert skipped is FireOutcome.previous_running
    assert "skipped the run" in caplog.text and "previous batch daily-2026-06-01 still runs" in (
        caplog.text
    )
    assert table.get_batch("daily-2026-06-02") is None
    assert later is FireOutcome.started and table.get_batch("daily-2026-06-03") is not None
