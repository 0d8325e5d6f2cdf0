"""What `status` says of a batch: counts, pace, time left, and how it reads."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.errors import ServerError
from jobs.records import Batch, BatchProgress
from jobs.results import ResultsTable
from jobs.states import JobState
from producer.summary import BatchSummary, duration, images_per_second
from tests.support.tables import loaded, stored

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def progress(succeeded: int, queued: int, last: datetime | None) -> BatchProgress:
    counts = {state: 0 for state in JobState}
    counts[JobState.succeeded], counts[JobState.queued] = succeeded, queued
    return BatchProgress(counts, 0.03 * succeeded, last)


def batch(started: datetime | None) -> Batch:
    return Batch("b", "m.jsonl", "./out", "m", 0, started_at=started)


def test_the_pace_of_a_running_batch_is_measured_to_now() -> None:
    rate = images_per_second(batch(START), progress(30, 70, START), START + timedelta(seconds=10))
    assert rate == pytest.approx(3.0)


def test_the_pace_of_a_finished_batch_ends_with_its_last_job() -> None:
    done = progress(30, 0, START + timedelta(seconds=15))
    assert images_per_second(batch(START), done, START + timedelta(hours=5)) == pytest.approx(2.0)


def test_there_is_no_pace_before_the_first_image() -> None:
    assert images_per_second(batch(None), progress(0, 5, None), START) is None
    assert images_per_second(batch(START), progress(0, 5, None), START) is None


@pytest.mark.parametrize(
    ("seconds", "shown"), [(None, "-"), (45.2, "45s"), (200, "3m 20s"), (7500, "2h 05m")]
)
def test_durations_read_as_people_write_them(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_summary_counts_states_errors_spend_pace_and_time_left(table: ResultsTable) -> None:
    done, failing, *waiting = loaded(table, "done", "failing", "w1", "w2")
    claim = table.claim(done, "w", 60)
    assert claim is not None
    table.record_generated(claim, "w", provider_url="https://p/x", inline_image=None, api_ms=1)
    table.record_succeeded(claim, "w", stored())
    bad = table.claim(failing, "w", 60)
    assert bad is not None
    table.record_failure(bad, "w", ServerError("503 twice"), max_attempts=1, retry_in=0)

    summary = BatchSummary.of(table, table.get_batch("b") or pytest.fail())

    assert summary.counts["succeeded"] == 1 and summary.counts["queued"] == len(waiting)
    assert summary.errors == [{"class": "server_error", "count": 1, "example": "503 twice"}]
    assert summary.spend_usd == pytest.approx(0.03)
    assert summary.images_per_s is not None and summary.images_per_s > 0
    assert summary.eta_s is not None  # 2 left at that pace
    assert summary.created_at is not None and summary.started_at is not None
    text = summary.render()
    assert "images/s, about" in text and "server_error: 1 (e.g. 503 twice)" in text
    assert summary.as_json()["finished"] == 2
