"""The results table on real SQLite and real PostgreSQL, fresh for each test; and the SQLite
table the CLI's settings point at, for commands run in the test's process."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import get_settings
from jobs.database import open_engine
from jobs.results import ResultsTable
from tests.support.tables import fresh_table


@pytest.fixture(params=["sqlite", "postgresql"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ResultsTable]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'results.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    with fresh_table(url) as results:
        yield results


@pytest.fixture
def cli_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ResultsTable]:
    """A fresh SQLite table that `SEEDREAM_DATABASE_URL` names, with no broker set; settings are
    read anew on both sides of the test."""
    url = f"sqlite:///{tmp_path / 'r.db'}"
    monkeypatch.setenv("SEEDREAM_DATABASE_URL", url)
    monkeypatch.delenv("SEEDREAM_BROKER_URL", raising=False)
    get_settings.cache_clear()
    table = ResultsTable(open_engine(url))
    table.create_schema()
    yield table
    get_settings.cache_clear()
    table.engine.dispose()
