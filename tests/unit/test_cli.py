"""The CLI's own behaviour: clear errors, status listings, nothing secret printed."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import get_settings
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.records import Share
from jobs.results import ResultsTable
from jobs.spec import JobSpec
from producer.cli import app
from tests.support.tables import loaded

runner = CliRunner()


def test_status_of_a_batch_counts_its_jobs_and_says_where_the_images_are(
    cli_table: ResultsTable,
) -> None:
    cli_table.create_batch("spring", "m.jsonl", "s3://bucket/prefix", "m")
    cli_table.add_jobs("spring", [JobSpec(key="a", line=1, input=Seedream40Input(prompt="p"))])

    result = runner.invoke(app, ["status", "spring"])
    as_json = json.loads(runner.invoke(app, ["status", "spring", "--json"]).stdout)

    assert result.exit_code == 0
    assert "batch spring: 1 job (queued 1)" in result.stdout
    assert "images: s3://bucket/prefix/spring/" in result.stdout
    assert as_json["counts"]["queued"] == 1
    assert as_json["total"] == 1


def test_status_with_no_batch_lists_recent_batches(cli_table: ResultsTable) -> None:
    cli_table.create_batch("first", "m.jsonl", "./out", "m")
    cli_table.create_batch("second", "m.jsonl", "./out", "m")

    listing = json.loads(runner.invoke(app, ["status", "--json"]).stdout)

    assert [entry["batch"] for entry in listing] == ["second", "first"]


def test_status_shows_each_batch_its_weight_share_of_the_fleet_and_eta_at_that_share(
    cli_table: ResultsTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDREAM_RATE_LIMIT", "60/60s")  # 1 call/s over the one gateway
    for gateways in ("CLOUDFLARE_GATEWAY_IDS", "CLOUDFLARE_GATEWAY_ID"):
        monkeypatch.delenv(gateways, raising=False)
    loaded(cli_table, "a", batch="light", share=Share(weight=1))
    loaded(cli_table, *[f"k{n}" for n in range(6)], batch="heavy", share=Share(weight=3))

    heavy = json.loads(runner.invoke(app, ["status", "heavy", "--json"]).stdout)
    listing = runner.invoke(app, ["status"], terminal_width=200).stdout
    shown = runner.invoke(app, ["status", "heavy"]).stdout

    assert (heavy["weight"], heavy["fleet_share"], heavy["share_calls_per_s"]) == (3, 0.75, 0.75)
    assert heavy["share_eta_s"] == 8.0  # 6 jobs at 0.75 calls/s
    assert "75% of the fleet now (0.75 calls/s), about 8s left at that share" in shown
    assert "share" in listing
    row = next(line for line in listing.splitlines() if "heavy" in line)
    assert "75%" in row
    assert "8s" in row


def test_status_of_an_unknown_batch_says_how_to_list_them(cli_table: ResultsTable) -> None:
    result = runner.invoke(app, ["status", "nope"])
    assert result.exit_code == 2
    assert "no batch named 'nope'" in result.stderr


def test_submit_without_a_broker_points_to_run(cli_table: ResultsTable, tmp_path: Path) -> None:
    result = runner.invoke(app, ["submit", str(tmp_path / "m.jsonl")])
    assert result.exit_code == 2
    assert "SEEDREAM_BROKER_URL is not set" in result.stderr


def test_a_manifest_that_cannot_be_read_is_one_line_and_leaves_no_batch(
    cli_table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    (tmp_path / "m.txt").write_text("prompt\n")

    result = runner.invoke(app, ["submit", str(tmp_path / "m.txt")])

    assert result.exit_code == 2
    assert "m.txt" in result.stderr
    assert ".jsonl" in result.stderr
    assert cli_table.recent_batches() == []


def test_an_error_quoting_the_manifest_prints_its_brackets_instead_of_reading_them_as_markup(
    cli_table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    (tmp_path / "m.csv").write_text("[bold]name,[/b]\n1,2\n")

    result = runner.invoke(app, ["submit", str(tmp_path / "m.csv")])

    assert result.exit_code == 2
    assert "'[bold]name', '[/b]'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    assert "MarkupError" not in result.stderr


@pytest.mark.parametrize("name", ["nl\n", "a/b", " lead", "x" * 101], ids=repr)
def test_a_batch_name_that_storage_could_not_hold_is_refused_before_anything_is_recorded(
    cli_table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "redis://127.0.0.1:1/0")
    get_settings.cache_clear()
    (tmp_path / "m.jsonl").write_text('{"prompt": "a mug"}\n')

    result = runner.invoke(app, ["submit", str(tmp_path / "m.jsonl"), "--batch", name])

    assert result.exit_code == 2
    assert "batch name" in result.stderr
    assert "is not allowed" in result.stderr
    assert cli_table.recent_batches() == []


@pytest.mark.parametrize("weight", ["0", "-1"])
def test_a_weight_that_would_never_be_served_is_refused_saying_what_is_allowed(
    cli_table: ResultsTable, tmp_path: Path, weight: str
) -> None:
    result = runner.invoke(app, ["run", str(tmp_path / "m.jsonl"), "--weight", weight])

    assert result.exit_code == 2
    assert "is not a weight: give a number above 0" in result.stderr
    assert cli_table.recent_batches() == []


def test_pause_stops_a_batch_and_says_how_to_carry_on(cli_table: ResultsTable) -> None:
    cli_table.create_batch("spring", "m.jsonl", "./out", "bytedance/seedream-4.0")

    paused = runner.invoke(app, ["pause", "spring"])
    again = runner.invoke(app, ["pause", "spring"])

    assert paused.exit_code == 0
    assert "batch spring: paused (0 messages taken off the queue)" in paused.stderr
    assert "`seedream-batch resume spring` carries on" in paused.stderr
    assert "batch spring: already paused" in again.stderr
    batch = cli_table.get_batch("spring")
    assert batch is not None
    assert batch.paused_reason is not None
    assert "seedream-batch pause" in batch.paused_reason


def test_a_cancelled_batch_cannot_be_paused(cli_table: ResultsTable) -> None:
    cli_table.create_batch("spring", "m.jsonl", "./out", "bytedance/seedream-4.0")
    cli_table.cancel("spring")

    result = runner.invoke(app, ["pause", "spring"])

    assert result.exit_code == 2
    assert "cancelled batch cannot be paused" in result.stderr
