"""What `status` says of a batch: its state, counts, pace, time left, and how it reads."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.batch_summary import PACE_LABEL, PACE_WINDOW, BatchSummary, Pace, Shown, duration
from jobs.errors import AuthError, ServerError
from jobs.records import Batch, BatchProgress
from jobs.results import ResultsTable
from jobs.states import BatchState, JobState
from producer.progress import watch_line
from tests.support.tables import ONE_IMAGE, loaded, stored

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def progress(
    succeeded: int,
    queued: int,
    last: datetime | None,
    *,
    since: datetime | None = None,
    recent: int | None = None,
) -> BatchProgress:
    """`succeeded` jobs done, `queued` left; `recent` of the succeeded finished after `since`
    (all of them unless told)."""
    counts = {state: 0 for state in JobState}
    counts[JobState.succeeded], counts[JobState.queued] = succeeded, queued
    lately = {JobState.succeeded: succeeded if recent is None else recent}
    return BatchProgress(counts, 0.03 * succeeded, last, since, lately)


def batch(started: datetime | None, state: BatchState = BatchState.active) -> Batch:
    return Batch("b", "m.jsonl", "./out", "m", 0, state=state, started_at=started)


def succeed(table: ResultsTable, job_id: int) -> None:
    """Take the job through the API and storage, as a worker would."""
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_generated(
        claim, "w", provider_urls=["https://p/x"], inline_image=None, api_ms=1, call=ONE_IMAGE
    )
    table.record_succeeded(claim, "w", stored())


def pace_now(started: datetime | None, done: BatchProgress, now: datetime) -> Pace:
    shown = Shown.running if done.finished < done.total else Shown.completed
    return Pace.of(batch(started), done, shown, now)


def test_the_pace_of_a_running_batch_is_measured_to_now() -> None:
    now = START + timedelta(seconds=10)
    pace = pace_now(START, progress(30, 70, START, since=now - PACE_WINDOW), now)
    assert pace.images_per_s == pytest.approx(3.0)
    assert pace.eta_s == pytest.approx(70 / 3.0)


def test_the_pace_of_a_finished_batch_ends_with_its_last_job() -> None:
    last = START + timedelta(seconds=15)
    done = progress(30, 0, last, since=last - PACE_WINDOW)
    pace = pace_now(START, done, START + timedelta(hours=5))
    assert pace.images_per_s == pytest.approx(2.0)
    assert pace.eta_s is None


def test_time_the_batch_sat_idle_before_the_window_does_not_lower_its_pace() -> None:
    now = START + timedelta(hours=10)  # paused overnight, resumed, 600 images in 5 minutes
    done = progress(1000, 400, now, since=now - PACE_WINDOW, recent=600)
    pace = pace_now(START, done, now)
    assert pace.images_per_s == pytest.approx(2.0)
    assert pace.eta_s == pytest.approx(200.0)


def test_a_running_batch_with_no_job_finished_within_the_window_has_no_eta() -> None:
    now = START + timedelta(hours=1)
    stalled = progress(30, 70, START + timedelta(minutes=10), since=now - PACE_WINDOW, recent=0)
    pace = pace_now(START, stalled, now)
    assert pace.images_per_s == 0.0
    assert pace.eta_s is None


def test_there_is_no_pace_before_the_first_image() -> None:
    assert pace_now(None, progress(0, 5, None, since=START), START).images_per_s is None
    assert pace_now(START, progress(0, 5, None, since=START), START).images_per_s is None


@pytest.mark.parametrize(
    ("seconds", "shown"), [(None, "-"), (45.2, "45s"), (200, "3m 20s"), (7500, "2h 05m")]
)
def test_durations_read_as_people_write_them(seconds: float | None, shown: str) -> None:
    assert duration(seconds) == shown


def test_a_summary_counts_states_errors_spend_pace_and_time_left(table: ResultsTable) -> None:
    done, failing, *waiting = loaded(table, "done", "failing", "w1", "w2")
    succeed(table, done)
    bad = table.claim(failing, "w", 60)
    assert bad is not None
    table.record_failure(bad, "w", ServerError("503 twice"), max_attempts=1, retry_in=0)

    summary = BatchSummary.of(table, table.get_batch("b") or pytest.fail("no batch b"))

    assert summary.counts["succeeded"] == 1
    assert summary.counts["queued"] == len(waiting)
    assert summary.errors == [{"class": "server_error", "count": 1, "example": "503 twice"}]
    assert summary.spend_usd == pytest.approx(0.03)
    assert summary.images_per_s is not None
    assert summary.images_per_s > 0
    assert summary.eta_s is not None  # 2 left at that pace
    assert summary.created_at is not None
    assert summary.started_at is not None
    text = summary.render()
    assert f"{PACE_LABEL}, about" in text
    assert "server_error: 1 (e.g. 503 twice)" in text
    assert summary.state == "running"
    assert "state: running" in text
    assert summary.as_json()["finished"] == 2


def test_a_batch_whose_jobs_are_all_final_is_completed_with_no_eta(table: ResultsTable) -> None:
    [job] = loaded(table, "only")
    succeed(table, job)

    summary = BatchSummary.of(table, table.get_batch("b") or pytest.fail("no batch b"))

    assert summary.state == "completed"
    assert summary.as_json()["state"] == "completed"
    assert summary.eta_s is None
    assert summary.images_per_s is not None
    assert summary.as_json()["pace_window_s"] == PACE_WINDOW.total_seconds()
    assert "state: completed" in summary.render()
    assert "active" not in summary.render()


def test_a_batch_nothing_works_on_shows_running_without_pace_or_eta(table: ResultsTable) -> None:
    loaded(table, "w1", "w2")

    summary = BatchSummary.of(table, table.get_batch("b") or pytest.fail("no batch b"))

    assert summary.state == "running"
    assert summary.eta_s is None
    assert summary.images_per_s is None
    assert "- left" in watch_line(summary)
    assert PACE_LABEL in watch_line(summary)


@pytest.mark.parametrize("stored_state", [BatchState.paused, BatchState.cancelled])
def test_a_paused_or_cancelled_batch_shows_that_state_and_no_eta(
    table: ResultsTable, stored_state: BatchState
) -> None:
    done, refused, _ = loaded(table, "done", "refused", "waiting")
    succeed(table, done)
    if stored_state is BatchState.cancelled:
        table.cancel("b")
    else:
        taken = table.claim(refused, "w", 60)
        assert taken is not None
        table.record_failure(taken, "w", AuthError("401"), max_attempts=5, retry_in=0)

    summary = BatchSummary.of(table, table.get_batch("b") or pytest.fail("no batch b"))

    assert summary.state == stored_state.value
    assert summary.eta_s is None
