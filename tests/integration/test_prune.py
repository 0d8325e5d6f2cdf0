"""`seedream-batch prune` run as a user runs it, on a results table in PostgreSQL: a dry run
deletes nothing, a prune removes the old finished batch's rows and only those, the images stay,
and a bad age or an unfinished batch is refused with exit 2."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from jobs.database import utcnow
from jobs.results import ResultsTable
from jobs.schema import batches_table, jobs_table
from tests.support.commands import cli
from tests.support.tables import finished, fresh_table, loaded

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_table(postgres_url: str) -> Iterator[ResultsTable]:
    with fresh_table(postgres_url) as table:
        yield table


def made_days_ago(table: ResultsTable, batch: str, days: int) -> None:
    """Move the batch, and its jobs' finishes, `days` into the past."""
    then = utcnow() - timedelta(days=days)
    with table.engine.begin() as conn:
        conn.execute(
            update(batches_table).where(batches_table.c.id == batch).values(created_at=then)
        )
        conn.execute(
            update(jobs_table)
            .where(jobs_table.c.batch_id == batch, jobs_table.c.finished_at.is_not(None))
            .values(finished_at=then)
        )


def batch_names(table: ResultsTable) -> list[str]:
    return sorted(batch.id for batch in table.recent_batches())


def test_prune_removes_the_old_finished_batchs_rows_and_keeps_its_images(
    pg_table: ResultsTable, postgres_url: str, child_env: dict[str, str], tmp_path: Path
) -> None:
    finished(pg_table, "a", "b", batch="old", folder=tmp_path.as_uri())
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "0.jpg").write_bytes(b"an image")
    finished(pg_table, "a", batch="recent")
    loaded(pg_table, "a", batch="stuck")  # queued for 40 days: not finished
    for batch in ("old", "stuck"):
        made_days_ago(pg_table, batch, 40)
    env = {**child_env, "SEEDREAM_DATABASE_URL": postgres_url}

    dry = cli(["prune", "--older-than", "30d", "--dry-run"], env, tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "would prune batch old: 2 jobs" in dry.stderr
    assert batch_names(pg_table) == ["old", "recent", "stuck"]

    pruned = cli(["prune", "--older-than", "4w"], env, tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "batch old: pruned (2 jobs, 2 attempts removed)" in pruned.stderr
    assert "pruned 1 batch: 2 jobs, 2 attempts; the images in storage are kept" in pruned.stderr
    assert batch_names(pg_table) == ["recent", "stuck"]
    assert pg_table.job_rows("old") == []
    assert (tmp_path / "a" / "0.jpg").read_bytes() == b"an image"

    stuck = cli(["prune", "--older-than", "30d", "--batch", "stuck"], env, tmp_path)
    assert stuck.returncode == 2
    assert "batch stuck is not finished (1 job queued, running or generated)" in stuck.stderr
    recent = cli(["prune", "--older-than", "30d", "--batch", "recent"], env, tmp_path)
    assert (recent.returncode, recent.stderr.splitlines()[0]) == (
        0,
        "batch recent: it changed within the last 30d; kept",
    )
    bad = cli(["prune", "--older-than", "30 days"], env, tmp_path)
    assert bad.returncode == 2
    assert "'30 days' is not an age" in bad.stderr
    assert batch_names(pg_table) == ["recent", "stuck"]
