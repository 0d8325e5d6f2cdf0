"""The results table on real SQLite and real PostgreSQL, fresh for each test."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.database import open_engine
from jobs.results import ResultsTable
from jobs.schema import metadata


@pytest.fixture(params=["sqlite", "postgresql"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ResultsTable]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'results.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    results = ResultsTable(open_engine(url))
    metadata.drop_all(results.engine)
    results.create_schema()
    yield results
    metadata.drop_all(results.engine)
    results.engine.dispose()
