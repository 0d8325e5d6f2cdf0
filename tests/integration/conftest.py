"""What the distributed integration tests share: the fleet's environment and its table."""

from pathlib import Path

import pytest

from tests.support.services import Emulator
from tests.support.tables import emptied_table


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The fleet's results table: PostgreSQL, or one SQLite file shared by the processes; empty
    either way. The PostgreSQL database lives as long as the session, so its tables are made
    anew: a batch another test left with jobs due would otherwise be run by this test's
    workers, whose dispatcher sends whatever the table holds."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleet.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    emptied_table(url).engine.dispose()
    return url


@pytest.fixture
def fleet_env(
    fresh_redis: str,
    database_url: str,
    s3_env: dict[str, str],
    emulator: Emulator,
    child_env: dict[str, str],
) -> dict[str, str]:
    return {
        **child_env,
        **s3_env,
        **emulator.env(),
        "SEEDREAM_BROKER_URL": fresh_redis,
        "SEEDREAM_DATABASE_URL": database_url,
        "SEEDREAM_CONCURRENCY": "8",
    }
