"""`seedream-batch schedules` and `beat` as a user runs them: the listing, and clear refusals."""

from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.results import ResultsTable
from producer.cli import app
from tests.support.tables import MODEL, specs

runner = CliRunner()

SCHEDULES = """\
- name: nightly
  cron: "30 2 * * *"
  manifest: s3://campaigns/nightly.jsonl
  output: ./out
  batch: "nightly-{date:%Y-%m-%d}"
- name: hourly
  cron: "0 * * * *"
  timezone: Asia/Tokyo
  manifest: hourly.jsonl
  output: ./out
  batch: "hourly-{date:%Y%m%d-%H}"
"""


@pytest.fixture
def table(cli_table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ResultsTable:
    """The CLI's table, with this module's schedule file (settings are read when a command runs)."""
    (tmp_path / "schedules.yaml").write_text(SCHEDULES)
    monkeypatch.setenv("SEEDREAM_SCHEDULES_FILE", str(tmp_path / "schedules.yaml"))
    return cli_table


def test_schedules_lists_each_with_its_next_run_and_the_last_batch_it_made(
    table: ResultsTable,
) -> None:
    table.create_batch("nightly-2026-06-01", "m", "out", MODEL, schedule="nightly")
    table.add_jobs("nightly-2026-06-01", specs("a"))
    table.create_batch("hourly-20260601-09", "m", "out", MODEL, schedule="hourly")
    table.cancel("hourly-20260601-09")

    result = runner.invoke(app, ["schedules"])

    assert result.exit_code == 0, result.output
    nightly = next(line for line in result.stdout.splitlines() if "nightly " in line)
    hourly = next(line for line in result.stdout.splitlines() if "hourly " in line)
    assert "30 2 * * *" in nightly
    assert "UTC" in nightly
    assert "02:30 (in " in nightly
    assert "s3://campaigns/nightly.jsonl" in nightly
    assert "nightly-2026-06-01 (running)" in nightly
    assert "Asia/Tokyo" in hourly
    assert ":00 (in " in hourly
    assert "hourly-20260601-09 (cancelled)" in hourly


def test_beat_without_a_broker_says_it_needs_one(table: ResultsTable) -> None:
    result = runner.invoke(app, ["beat"])

    assert result.exit_code == 2
    assert "SEEDREAM_BROKER_URL is not set: `submit`, `worker` and `beat` need" in result.output
