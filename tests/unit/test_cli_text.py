"""What the CLI says, read from its real output: help that shows flags as flags, option errors
in the CLI's words, counts that agree with their nouns, and pause advice said once."""

import os
import subprocess
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from jobs.database import open_engine
from jobs.errors import AuthError, ServerError
from jobs.results import ResultsTable
from producer.cli import app
from tests.support.processes import CLI
from tests.support.tables import loaded

runner = CliRunner()

COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)], ids=str)
def test_help_shows_flags_without_a_value_placeholder(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])

    assert result.exit_code == 0, result.output
    assert "<bool>" not in result.output
    assert "--help " in result.output


def test_run_help_shows_strict_as_a_flag_and_out_as_taking_a_value() -> None:
    lines = runner.invoke(app, ["run", "--help"]).output.splitlines()

    [strict] = [line for line in lines if "--strict" in line]
    assert strict.split()[:2] == ["--strict", "Refuse"]
    assert any(line.split()[:2] == ["--out", "<str>"] for line in lines)


def test_a_value_outside_the_choices_names_the_option_and_the_choices(
    cli_table: ResultsTable,
) -> None:
    result = runner.invoke(app, ["export", "b", "--format", "xml", "--to", "x"])

    assert result.exit_code == 2
    assert (
        "--format: 'xml' is not one of jsonl, csv, parquet, imagefolder, webdataset"
        in result.stderr
    )
    assert "Value error" not in result.stderr
    assert "Invalid value" not in result.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "m.jsonl", "--max-images", "abc"], "--max-images: 'abc' is not a valid integer"),
        (
            ["run", "m.jsonl", "--max-images", "-1"],
            "--max-images: '-1' is not greater than or equal to 0",
        ),
        (["retry", "b", "--class", "nope"], "--class: 'nope' is not one of rate_limited, "),
    ],
)
def test_option_errors_are_said_in_the_cli_s_words(
    cli_table: ResultsTable, args: list[str], said: str
) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == 2
    assert said in result.stderr
    assert "Input should" not in result.stderr
    assert "Value error" not in result.stderr


def test_one_job_is_one_job(cli_table: ResultsTable) -> None:
    loaded(cli_table, "a", batch="one")

    shown = runner.invoke(app, ["status", "one"]).stdout
    cancelled = runner.invoke(app, ["cancel", "one"]).stderr

    assert "batch one: 1 job (queued 1)" in shown
    assert "0 rows rejected" in shown
    assert "cancelled 1 queued job;" in cancelled


def test_retrying_one_failed_job_says_one_failed_job(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    table = ResultsTable(open_engine(url))
    table.create_schema()
    [job] = loaded(table, "a", batch="one")
    claim = table.claim(job, "w", 60)
    assert claim is not None
    table.record_failure(claim, "w", ServerError("503"), max_attempts=1, retry_in=0)
    env = os.environ | {"SEEDREAM_DATABASE_URL": url, "SEEDREAM_BROKER_URL": "memory://"}

    retried = subprocess.run(
        [CLI, "retry", "one"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )

    assert retried.returncode == 0, retried.stderr
    assert "batch one: 1 failed job retried" in retried.stderr


def test_an_auth_pause_reads_as_one_sentence_with_its_advice_once(
    cli_table: ResultsTable,
) -> None:
    [job, _] = loaded(cli_table, "a", "b", batch="p")
    claim = cli_table.claim(job, "w", 60)
    assert claim is not None
    refused = AuthError("Unauthorized: the API token is missing or not valid.")
    cli_table.record_failure(claim, "w", refused, max_attempts=5, retry_in=0)

    shown = runner.invoke(app, ["status", "p"]).stdout

    assert (
        "PAUSED: auth: Unauthorized: the API token is missing or not valid; fix it, then "
        "`seedream-batch resume p`"
    ) in shown
    assert ".;" not in shown
    assert shown.count("resume p") == 1


def test_a_budget_pause_gives_its_advice_once(cli_table: ResultsTable) -> None:
    first, _ = loaded(cli_table, "a", "b", batch="capped", max_images=1)
    claim = cli_table.claim(first, "w", 60)
    assert claim is not None
    assert cli_table.claim(_, "w", 60) is None  # the budget is spent: the batch pauses

    shown = runner.invoke(app, ["status", "capped"]).stdout

    assert "PAUSED: budget: 1 image ($0.03 at $0.03 each) paid for or in flight" in shown
    assert shown.count("resume capped") == 1
    assert shown.count("--max-images") == 1
