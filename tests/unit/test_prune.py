"""Pruning old, finished batches' rows (real SQLite and PostgreSQL): what goes (jobs, attempts,
images' rows, then the batch), what stays (unfinished or recent batches, a job retried
meanwhile, the images themselves), and chunks that a crash half way leaves for the next prune."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from jobs.database import utcnow
from jobs.prune import PrunedBatch, prunable_batches, prune, unfinished_jobs
from jobs.results import ResultsTable
from jobs.schema import attempts_table, batches_table, job_images_table, jobs_table
from tests.support.pg_reads import rows_read
from tests.support.tables import ONE_IMAGE, finished, loaded

#: a cutoff every batch made in a test is older than, and one every such batch is newer than
LATER = utcnow() + timedelta(days=1)
EARLIER = utcnow() - timedelta(days=1)
_TABLES = (batches_table, jobs_table, attempts_table, job_images_table)


def row_counts(table: ResultsTable) -> dict[str, int]:
    with table.engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one() for t in _TABLES
        }


@contextmanager
def on_statement(table: ResultsTable, opening: str, act: Callable[[int], None]) -> Iterator[None]:
    """Within the block, `act(n)` runs before the n-th statement that starts with `opening`."""
    seen = 0

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal seen
        if statement.lstrip().startswith(opening):
            seen += 1
            act(seen)

    event.listen(table.engine, "before_cursor_execute", before)
    try:
        yield
    finally:
        event.remove(table.engine, "before_cursor_execute", before)


def test_a_finished_old_batch_goes_with_its_attempts_and_images_rows(table: ResultsTable) -> None:
    finished(table, "a", "b", "c")
    table.create_batch("empty", "m.jsonl", "./out", "bytedance/seedream-4.0")
    assert row_counts(table) == {"batches": 2, "jobs": 3, "attempts": 3, "job_images": 4}

    assert prune(table.engine, LATER) == [
        PrunedBatch("b", jobs=3, attempts=3, complete=True),
        PrunedBatch("empty", jobs=0, attempts=0, complete=True),
    ]
    assert row_counts(table) == {"batches": 0, "jobs": 0, "attempts": 0, "job_images": 0}


@pytest.mark.parametrize("unfinished", ["queued", "running", "generated"])
def test_a_batch_with_an_unfinished_job_stays_whole(table: ResultsTable, unfinished: str) -> None:
    finished(table, "a", "b")
    [waiting] = loaded(table, "w", batch="other")
    if unfinished != "queued":
        claim = table.claim(waiting, "w", 60)
        assert claim is not None
        if unfinished == "generated":
            table.record_generated(
                claim, "w", provider_urls=["https://p/x"], inline_image=None, api_ms=1,
                call=ONE_IMAGE,
            )  # fmt: skip
    with table.engine.begin() as conn:  # its batch's other job finished long ago
        conn.execute(jobs_table.update().where(jobs_table.c.id == waiting).values(state=unfinished))
    before = row_counts(table)

    assert [pruned.name for pruned in prune(table.engine, LATER, batch_id="other")] == []
    assert unfinished_jobs(table.engine, "other") == 1
    assert row_counts(table) == before
    assert [found.name for found in prunable_batches(table.engine, LATER)] == ["b"]


def test_a_recently_finished_batch_stays(table: ResultsTable) -> None:
    finished(table, "a", "b")
    table.create_batch("empty", "m.jsonl", "./out", "bytedance/seedream-4.0")
    before = row_counts(table)

    assert prune(table.engine, EARLIER) == []
    assert row_counts(table) == before


def test_the_images_in_the_output_folder_stay(table: ResultsTable, tmp_path: Path) -> None:
    finished(table, "a", "b", folder=tmp_path.as_uri())
    for n in range(2):
        (tmp_path / "a").mkdir(exist_ok=True)
        (tmp_path / "a" / f"{n}.jpg").write_bytes(b"image %d" % n)

    [pruned] = prune(table.engine, LATER)

    assert pruned.complete
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["0.jpg", "1.jpg"]
    assert (tmp_path / "a" / "1.jpg").read_bytes() == b"image 1"


@pytest.mark.parametrize("table", ["sqlite"], indirect=True)
def test_a_job_retried_between_its_chunks_select_and_delete_is_kept_with_its_batch(
    table: ResultsTable,
) -> None:
    """SQLite has no row locks: the deletes themselves re-check the job's state. (PostgreSQL
    locks the chunk's rows, so there a retry waits for the chunk and finds nothing to reopen.)"""
    finished(table, "a", "z")  # z failed
    retried: list[int] = []

    def retry(_n: int) -> None:
        retried.append(table.retry("b"))

    with on_statement(table, "DELETE FROM job_images", retry):
        [pruned] = prune(table.engine, LATER)

    assert retried == [1]
    assert pruned == PrunedBatch("b", jobs=1, attempts=1, complete=False)
    [kept] = table.job_rows("b")
    assert (kept["key"], kept["state"]) == ("z", "queued")
    assert row_counts(table) == {"batches": 1, "jobs": 1, "attempts": 1, "job_images": 0}


def test_a_job_retried_between_chunks_is_kept_with_its_batch(table: ResultsTable) -> None:
    finished(table, "y", "z", failed=2)

    def retry(n: int) -> None:
        if n == 2:
            table.retry("b")

    with on_statement(table, "SELECT jobs.id", retry):
        [pruned] = prune(table.engine, LATER, chunk=1)

    assert pruned == PrunedBatch("b", jobs=1, attempts=1, complete=False)
    [kept] = table.job_rows("b")
    assert kept["state"] == "queued"
    assert [found.name for found in prunable_batches(table.engine, LATER)] == []


def test_a_prune_cut_short_leaves_its_batch_for_the_next_prune_to_finish(
    table: ResultsTable,
) -> None:
    finished(table, *[f"k{n}" for n in range(5)])

    def crash(n: int) -> None:
        if n == 2:
            raise RuntimeError("killed")

    with on_statement(table, "DELETE FROM jobs", crash), pytest.raises(RuntimeError):
        prune(table.engine, LATER, chunk=2)

    # the first chunk went; the second rolled back whole
    left = row_counts(table)
    assert (left["batches"], left["jobs"], left["attempts"]) == (1, 3, 3)
    assert prune(table.engine, LATER, chunk=2) == [
        PrunedBatch("b", jobs=3, attempts=3, complete=True)
    ]
    assert row_counts(table)["batches"] == 0


def test_a_batch_goes_in_chunks_of_the_size_given(table: ResultsTable) -> None:
    finished(table, *[f"k{n}" for n in range(5)])
    chunks: list[int] = []

    with on_statement(table, "DELETE FROM jobs", chunks.append):
        [pruned] = prune(table.engine, LATER, chunk=2)

    assert chunks == [1, 2, 3]
    assert (pruned.jobs, pruned.complete) == (5, True)


@pytest.mark.parametrize("table", ["postgresql"], indirect=True)
def test_pruning_reads_the_pruned_batchs_rows_a_few_times_and_no_other_batchs(
    table: ResultsTable,
) -> None:
    size, others = 300, 5000
    finished(table, *[f"k{n}" for n in range(size)])
    loaded(table, *[f"w{n}" for n in range(others)], batch="running")

    with rows_read(table.engine, "jobs") as read:
        [pruned] = prune(table.engine, LATER, chunk=25)
        # about ten reads a row (listing it; per chunk, choosing its rows and three deletes
        # re-reading them by id), never the running batch's 5,000, nor each chunk re-reading
        # what the ones before it deleted (some 1,800 more)
        assert read() < 15 * size

    assert pruned.jobs == size
