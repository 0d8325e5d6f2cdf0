"""A schedule may name the model its batches call (an unsupported one refuses the file), and
its fires make batches of that model."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from config.settings import Settings
from jobs.models import MODELS
from jobs.results import ResultsTable
from jobs.schedules import Schedule
from producer.schedule_file import ScheduleFileError, load_schedules
from producer.scheduled_run import FireOutcome, start_scheduled_batch

ENTRY = """\
- name: daily
  cron: "0 6 * * *"
  manifest: m.jsonl
  batch: "daily-{date:%Y-%m-%d}"
"""


def test_a_schedule_names_its_batches_model_or_leaves_it_to_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(ENTRY + ENTRY.replace("daily", "sets") + "  model: bytedance/seedream-4.5\n")
    first, second = load_schedules(path)
    assert first.model is None
    assert second.model == "bytedance/seedream-4.5"


def test_an_unsupported_model_refuses_the_file_naming_the_schedule(tmp_path: Path) -> None:
    path = tmp_path / "schedules.yaml"
    path.write_text(ENTRY + "  model: flux\n")
    with pytest.raises(ScheduleFileError) as caught:
        load_schedules(path)
    assert str(caught.value) == (
        f"{path}: schedule 'daily' (#1): model: 'flux' is not a model this version supports: "
        "use one of "
        f"{', '.join(MODELS)}"
    )


def test_a_fire_makes_a_batch_of_its_schedules_model_at_that_models_price(
    table: ResultsTable, tmp_path: Path
) -> None:
    (tmp_path / "jobs.jsonl").write_text('{"prompt": "a fox", "size": "4K"}\n')
    schedule = Schedule(
        name="sets",
        cron="0 9 * * *",
        manifest=str(tmp_path / "jobs.jsonl"),
        output=str(tmp_path / "out"),
        batch="sets-{date:%Y-%m-%d}",
        model="bytedance/seedream-4.5",
    )
    settings = Settings(
        _env_file=None, manifest_roots=(str(tmp_path),), output_roots=(str(tmp_path),)
    )
    fired_at = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

    fire = start_scheduled_batch(table, settings, schedule, fired_at, lambda: None)

    batch = table.get_batch(fire.batch)
    assert fire.outcome is FireOutcome.started
    assert batch is not None
    assert (batch.model, batch.price_per_image) == ("bytedance/seedream-4.5", 0.04)
