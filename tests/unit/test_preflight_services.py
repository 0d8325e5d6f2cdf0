"""The results table's and the output's lines: the schema version (current, older, newer) on real
SQLite and PostgreSQL, and the output probe in a real folder, which leaves nothing behind."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update

from config.settings import Settings
from jobs.results import ResultsTable
from jobs.schema_version import (
    SCHEMA_VERSION,
    record_schema_version,
    recorded_version,
    schema_version_table,
    version_metadata,
)
from producer.preflight.checks import preflight_problems
from producer.preflight.lines import Outcome
from producer.preflight.service_checks import broker_line, output_line, output_problem, table_line
from tests.support.processes import free_port
from worker.storage import LocalFolderStorage
from worker.storage.probe import PROBE_PREFIX


@pytest.fixture
def versioned(table: ResultsTable) -> Iterator[ResultsTable]:
    """The table with its version recorded, the version table dropped afterwards (it is not in
    jobs.schema's metadata, which the `table` fixture drops)."""
    record_schema_version(table.engine)
    yield table
    version_metadata.drop_all(table.engine)


def set_version(table: ResultsTable, version: int) -> None:
    with table.engine.begin() as conn:
        conn.execute(update(schema_version_table).values(version=version))


def url_of(table: ResultsTable) -> str:
    return table.engine.url.render_as_string(hide_password=False)


def test_making_the_schema_records_the_current_version(versioned: ResultsTable) -> None:
    versioned.create_schema()

    with versioned.engine.connect() as conn:
        assert recorded_version(conn) == SCHEMA_VERSION
    line = table_line(url_of(versioned))
    assert line.outcome is Outcome.ok
    assert line.text.endswith(f": schema version {SCHEMA_VERSION}, current")


def test_an_older_version_is_fine_and_brought_up_by_the_next_command_that_writes(
    versioned: ResultsTable,
) -> None:
    set_version(versioned, SCHEMA_VERSION - 1)

    line = table_line(url_of(versioned))
    versioned.create_schema()

    assert line.outcome is Outcome.ok
    assert "is older than" in line.text
    assert line.text.endswith("the next command that writes brings it up to date")
    with versioned.engine.connect() as conn:
        assert recorded_version(conn) == SCHEMA_VERSION


def test_a_newer_version_is_refused_and_never_lowered(versioned: ResultsTable) -> None:
    set_version(versioned, SCHEMA_VERSION + 1)

    versioned.create_schema()
    line = table_line(url_of(versioned))

    assert line.outcome is Outcome.failed
    assert line.text.endswith(
        f"has schema version {SCHEMA_VERSION + 1}, newer than this seedream-batch knows "
        f"({SCHEMA_VERSION}): upgrade seedream-batch on this machine"
    )
    with versioned.engine.connect() as conn:
        assert recorded_version(conn) == SCHEMA_VERSION + 1


def test_a_sqlite_file_not_made_yet_is_fine_when_its_folder_is_there(tmp_path: Path) -> None:
    line = table_line(f"sqlite:///{tmp_path / 'new.db'}")

    assert line.render() == (
        f"✓ results table: {tmp_path / 'new.db'} does not exist yet: the first `run` creates it"
    )
    assert not (tmp_path / "new.db").exists()


def test_a_sqlite_file_in_a_folder_that_is_not_there_is_a_red_line(tmp_path: Path) -> None:
    line = table_line(f"sqlite:///{tmp_path / 'nowhere' / 'r.db'}")

    assert line.outcome is Outcome.failed
    assert line.text.startswith(f"the folder {tmp_path / 'nowhere'} of SEEDREAM_DATABASE_URL")


def test_the_probe_writes_reads_and_deletes_leaving_the_folder_as_it_was(tmp_path: Path) -> None:
    (tmp_path / "kept.jpg").write_bytes(b"x")

    line = output_line(str(tmp_path))

    assert line.render() == (
        f"✓ output: {tmp_path}: a probe object was written, read back and deleted"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept.jpg"]


def test_an_output_that_cannot_be_written_is_one_line_naming_the_step(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")

    problem = output_problem(str(blocked))

    assert problem is not None
    assert problem.startswith(f"output {blocked}: cannot write a probe object: ")
    assert "\n" not in problem


def test_deleting_an_object_that_is_not_there_is_no_error(tmp_path: Path) -> None:
    storage = LocalFolderStorage(tmp_path)

    storage.delete(f"{PROBE_PREFIX}gone")

    assert list(storage.list()) == []


def test_no_broker_is_fine_for_run_and_the_line_says_what_needs_one() -> None:
    line = broker_line(None)

    assert line.outcome is Outcome.ok
    assert line.text.startswith("none set: `run` works in one process; `submit`, `worker`")


def test_a_broker_where_nothing_listens_is_one_red_line_without_its_password() -> None:
    port = free_port()

    line = broker_line(f"redis://:hunter2@127.0.0.1:{port}/0")

    assert line.render() == (
        f"✗ broker: cannot reach the broker at redis://127.0.0.1:{port}: connection refused: "
        "start it, or correct SEEDREAM_BROKER_URL"
    )


def test_a_submitter_without_a_token_leaves_it_to_the_workers_and_only_probes_the_output(
    tmp_path: Path,
) -> None:
    settings = Settings(api_token=None, account_id=None)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")

    assert preflight_problems(settings, str(tmp_path / "out")) == []
    [problem] = preflight_problems(settings, str(blocked))
    assert problem.startswith(f"output {blocked}: cannot write a probe object")
