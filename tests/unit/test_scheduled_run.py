"""A schedule's fire against the real table (SQLite and PostgreSQL): a batch named after the fire
time, made once however often the fire arrives, skipped while the last run still goes, and
refused when it names a manifest or an output outside the workers' roots."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from config.settings import Settings
from jobs.results import BatchExists, ResultsTable
from jobs.schedules import Schedule
from producer.scheduled_run import FireOutcome, start_scheduled_batch
from tests.support.dispatching import dispatched
from tests.support.manifests import write_manifest
from tests.support.tables import MODEL, stored

FIRE = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


class Sent:
    """The dispatcher, woken by a fire: it sends every job due at once, and keeps their ids."""

    def __init__(self, table: ResultsTable) -> None:
        self.table = table
        self.job_ids: list[int] = []
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            self.job_ids.extend(dispatched(self.table))


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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The workers' settings: the test's folder is where manifests and outputs may be."""
    return Settings(_env_file=None, manifest_roots=(str(tmp_path),), output_roots=(str(tmp_path),))


def _fire(
    table: ResultsTable, schedule: Schedule, at: datetime, sent: Sent, settings: Settings
) -> FireOutcome:
    return start_scheduled_batch(table, settings, schedule, at, sent).outcome


def _finish_all(table: ResultsTable, batch: str) -> None:
    for row in table.job_rows(batch):
        claim = table.claim(row["id"], "w", 60)
        assert claim is not None
        table.record_succeeded(claim, "w", stored())


def test_a_fire_makes_the_batch_named_after_its_time_and_records_the_schedule(
    table: ResultsTable, schedule: Schedule, settings: Settings
) -> None:
    sent = Sent(table)

    assert _fire(table, schedule, FIRE, sent, settings) is FireOutcome.started

    batch = table.get_batch("daily-2026-06-01")
    assert batch is not None
    assert batch.schedule == "daily"
    assert batch.max_images == 5
    assert batch.manifest == schedule.manifest
    assert len(sent.job_ids) == 3
    assert table.latest_of_schedule("daily") == batch


def test_a_schedule_asking_for_variants_makes_them_of_every_row(
    table: ResultsTable, schedule: Schedule, settings: Settings
) -> None:
    sent = Sent(table)

    _fire(table, schedule.model_copy(update={"variants": 2}), FIRE, sent, settings)

    batch = table.get_batch("daily-2026-06-01")
    assert batch is not None
    assert batch.variants == 2
    assert len(sent.job_ids) == 6
    assert {row["variant"] for row in table.job_rows(batch.id)} == {1, 2}


def test_a_fresh_schedule_makes_batches_that_pay_for_every_image(
    table: ResultsTable, schedule: Schedule, settings: Settings
) -> None:
    _fire(table, schedule.model_copy(update={"fresh": True}), FIRE, Sent(table), settings)

    batch = table.get_batch("daily-2026-06-01")
    assert batch is not None
    assert batch.fresh


def test_a_schedule_naming_a_campaign_makes_its_matrix_a_batch_and_rereads_its_data(
    table: ResultsTable, schedule: Schedule, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "products.csv").write_text("sku,name\nA1,mug\n")
    (tmp_path / "weekly.yaml").write_text(
        'data: products.csv\nprompt: "a {name}"\nid: "{sku}/{aspect_ratio}"\n'
        'vary: {aspect_ratio: ["1:1", "9:16"]}\n'
    )
    weekly = schedule.model_copy(update={"manifest": str(tmp_path / "weekly.yaml")})
    sent = Sent(table)

    _fire(table, weekly, FIRE, sent, settings)
    (tmp_path / "products.csv").write_text("sku,name\nA1,mug\nB2,cup\n")
    _finish_all(table, "daily-2026-06-01")
    _fire(table, weekly, FIRE + timedelta(days=7), sent, settings)

    first = [row["key"] for row in table.job_rows("daily-2026-06-01")]
    second = [row["key"] for row in table.job_rows("daily-2026-06-08")]
    assert first == ["A1/1-1", "A1/9-16"]
    assert second == ["A1/1-1", "A1/9-16", "B2/1-1", "B2/9-16"]
    assert len(sent.job_ids) == 6


def test_a_fire_over_its_max_cost_is_refused_unless_the_schedule_allows_partial_runs(
    table: ResultsTable, schedule: Schedule, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    dear = schedule.model_copy(update={"max_cost": 0.05})  # 3 images at $0.03
    sent = Sent(table)

    refused = _fire(table, dear, FIRE, sent, settings)
    partial = dear.model_copy(update={"allow_partial": True})
    started = _fire(table, partial, FIRE + timedelta(days=1), sent, settings)

    assert refused is FireOutcome.bad_manifest
    assert "its estimate is $0.09 (3 images × $0.03), over --max-cost $0.05" in caplog.text
    assert table.get_batch("daily-2026-06-01") is None
    assert started is FireOutcome.started
    assert len(sent.job_ids) == 3


def test_the_same_fire_twice_makes_one_batch_and_enqueues_its_jobs_once(
    table: ResultsTable, schedule: Schedule, settings: Settings
) -> None:
    sent = Sent(table)

    first = _fire(table, schedule, FIRE, sent, settings)
    again = _fire(table, schedule, FIRE, sent, settings)

    assert (first, again) == (FireOutcome.started, FireOutcome.exists)
    assert len(sent.job_ids) == 3


def test_two_processes_firing_at_once_make_one_batch(
    table: ResultsTable, schedule: Schedule, settings: Settings
) -> None:
    sent, outcomes = Sent(table), []
    start = threading.Barrier(2)

    def fire() -> None:
        start.wait()
        outcomes.append(_fire(table, schedule, FIRE, sent, settings))

    threads = [threading.Thread(target=fire) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == [FireOutcome.exists, FireOutcome.started]
    assert len(sent.job_ids) == 3
    assert len(table.job_rows("daily-2026-06-01")) == 3


def test_the_name_is_taken_by_the_insert_so_a_late_second_maker_is_refused(
    table: ResultsTable,
) -> None:
    table.create_batch("taken", "m.jsonl", "out", MODEL)

    with pytest.raises(BatchExists, match="'taken' already exists"):
        table.create_batch("taken", "m.jsonl", "out", MODEL, schedule="daily")


def test_a_fire_while_the_previous_batch_still_runs_is_skipped_and_logged(
    table: ResultsTable, schedule: Schedule, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    sent = Sent(table)
    _fire(table, schedule, FIRE, sent, settings)

    skipped = _fire(table, schedule, FIRE + timedelta(days=1), sent, settings)
    _finish_all(table, "daily-2026-06-01")
    later = _fire(table, schedule, FIRE + timedelta(days=2), sent, settings)

    assert skipped is FireOutcome.previous_running
    assert "skipped the run" in caplog.text
    assert "previous batch daily-2026-06-01 still runs" in (caplog.text)
    assert table.get_batch("daily-2026-06-02") is None
    assert later is FireOutcome.started
    assert table.get_batch("daily-2026-06-03") is not None


@pytest.mark.parametrize("field", ["manifest", "output"])
def test_a_fire_naming_a_place_outside_the_roots_is_refused_and_records_nothing(
    table: ResultsTable,
    schedule: Schedule,
    settings: Settings,
    field: str,
    tmp_path_factory: pytest.TempPathFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    write_manifest(elsewhere / "jobs.jsonl", good=3)
    place = str(elsewhere / "jobs.jsonl") if field == "manifest" else str(elsewhere / "out")
    forged = schedule.model_copy(update={field: place})
    sent = Sent(table)

    outcome = _fire(table, forged, FIRE, sent, settings)

    assert outcome is FireOutcome.refused
    assert table.get_batch("daily-2026-06-01") is None
    assert table.latest_of_schedule("daily") is None
    assert sent.job_ids == []
    assert not (elsewhere / "out").exists()
    setting = "SEEDREAM_MANIFEST_ROOTS" if field == "manifest" else "SEEDREAM_OUTPUT_ROOTS"
    assert f"schedule daily: refused the run at {FIRE.isoformat()}" in caplog.text
    assert repr(place) in caplog.text
    assert setting in caplog.text


def test_a_manifest_reached_through_dot_dot_from_inside_a_root_is_refused(
    table: ResultsTable, schedule: Schedule, settings: Settings, tmp_path: Path
) -> None:
    (tmp_path / "inside").mkdir()
    roots = settings.model_copy(update={"manifest_roots": (str(tmp_path / "inside"),)})
    escaping = schedule.model_copy(update={"manifest": str(tmp_path / "inside/../jobs.jsonl")})

    assert _fire(table, escaping, FIRE, Sent(table), roots) is FireOutcome.refused
    assert table.get_batch("daily-2026-06-01") is None


def test_a_fire_with_no_output_writes_to_the_workers_own_output(
    table: ResultsTable, schedule: Schedule, tmp_path: Path
) -> None:
    """SEEDREAM_OUTPUT is always allowed: a schedule naming no output needs no root for it."""
    workers = Settings(_env_file=None, manifest_roots=(str(tmp_path),), output=str(tmp_path / "o"))
    plain = schedule.model_copy(update={"output": None})

    assert _fire(table, plain, FIRE, Sent(table), workers) is FireOutcome.started
    batch = table.get_batch("daily-2026-06-01")
    assert batch is not None
    assert batch.output == str(tmp_path / "o")


@pytest.mark.parametrize("content", ["", '{"prompt": ""}\n'], ids=["empty", "no valid row"])
def test_a_manifest_with_no_valid_row_is_one_logged_line_and_records_nothing(
    table: ResultsTable,
    schedule: Schedule,
    settings: Settings,
    content: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    Path(schedule.manifest).write_text(content)
    sent = Sent(table)

    assert _fire(table, schedule, FIRE, sent, settings) is FireOutcome.bad_manifest

    assert table.get_batch("daily-2026-06-01") is None
    assert sent.job_ids == []
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert "schedule daily: the run at" in record.getMessage()
    assert "not started" in (record.getMessage())
