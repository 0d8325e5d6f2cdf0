"""Commands that read or act on recorded batches never create a results table: run from the
wrong folder (or with a URL naming an empty database), they say that none exists there."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import get_settings
from producer.cli import app
from tests.support.services import POSTGRES_ADMIN_URL, temporary_postgres_database

runner = CliRunner()

READ_ONLY_COMMANDS = [
    ["status"],
    ["status", "spring", "--json"],
    ["export", "spring", "--format", "jsonl", "--to", "exports/"],
    ["schedules"],
    ["resume", "spring"],
    ["retry", "spring"],
    ["cancel", "spring"],
]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder `run` was never run in, with the default settings (and a schedule file, so
    `schedules` has something to look up in the table)."""
    monkeypatch.chdir(tmp_path)
    for name in ("SEEDREAM_DATABASE_URL", "SEEDREAM_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    schedules = tmp_path / "schedules.yaml"
    schedules.write_text(
        "- name: nightly\n  cron: '0 3 * * *'\n  manifest: m.jsonl\n  batch: 'n-{date:%j}'\n"
    )
    monkeypatch.setenv("SEEDREAM_SCHEDULES_FILE", str(schedules))
    # resume and retry may run jobs here, so they ask for credentials before the table
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok")
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=" ".join)
def test_a_read_only_command_in_another_folder_creates_no_database_and_says_so(
    elsewhere: Path, command: list[str]
) -> None:
    result = runner.invoke(app, command)

    assert result.exit_code == 2, result.output
    assert not (elsewhere / "seedream.db").exists()
    [line] = result.stderr.strip().splitlines()
    assert "no results table at sqlite:///seedream.db" in line
    assert "the folder you ran `run` in" in line
    assert "SEEDREAM_DATABASE_URL" in line


def test_a_postgres_database_without_the_tables_is_named_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
        with_password = url.replace("postgres@", "postgres:hunter2@", 1)
        monkeypatch.setenv("SEEDREAM_DATABASE_URL", with_password)
        get_settings.cache_clear()

        result = runner.invoke(app, ["status"])

        get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert "no results table at postgresql+psycopg://postgres:***@" in line
    assert "has no results tables" in line
    assert "hunter2" not in line


def test_a_postgres_database_that_does_not_exist_is_one_line_without_the_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    missing = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/seedream_no_such_database"
    monkeypatch.setenv("SEEDREAM_DATABASE_URL", missing.replace("postgres@", "postgres:pw7@", 1))
    get_settings.cache_clear()

    result = runner.invoke(app, ["export", "b", "--format", "csv", "--to", "x.csv"])

    get_settings.cache_clear()
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert "cannot open the results table at postgresql+psycopg://postgres:***@" in line
    assert "seedream_no_such_database" in line
    assert "pw7" not in line
