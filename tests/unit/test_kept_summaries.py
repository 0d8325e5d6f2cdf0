"""A finished batch's figures, kept on its row (real SQLite and PostgreSQL): read without counting
its jobs again, never kept while a job is unfinished, and cleared by retry."""

from jobs.batch_summary import BatchSummary
from jobs.results import ResultsTable
from tests.support.tables import finished, loaded


def summary(table: ResultsTable, batch: str = "b") -> BatchSummary:
    found = table.get_batch(batch)
    assert found is not None
    return BatchSummary.of(table, found)


def test_a_finished_batch_s_figures_are_read_once_then_kept(table: ResultsTable) -> None:
    finished(table, "a", "b", "c", failed=1)
    first = summary(table)
    with table.engine.begin() as conn:  # were they counted again, this would show
        conn.exec_driver_sql("UPDATE jobs SET state = 'cancelled' WHERE batch_id = 'b'")

    kept = summary(table)

    assert kept.counts == first.counts
    assert (kept.counts["succeeded"], kept.counts["failed"]) == (2, 1)
    assert kept.errors == first.errors
    assert kept.spend_usd == first.spend_usd
    assert table.kept_summary("b") is not None


def test_nothing_is_kept_while_a_job_is_unfinished(table: ResultsTable) -> None:
    loaded(table, "a", "b")

    assert summary(table).counts["queued"] == 2
    assert table.kept_summary("b") is None


def test_a_retry_clears_what_was_kept_and_the_batch_is_counted_again(table: ResultsTable) -> None:
    finished(table, "a", "b", failed=1)
    assert summary(table).counts["failed"] == 1

    assert table.retry("b") == 1

    assert table.kept_summary("b") is None
    assert summary(table).counts["queued"] == 1


def test_figures_counted_before_a_retry_reopened_jobs_are_not_kept(table: ResultsTable) -> None:
    finished(table, "a", "b", failed=1)
    counted = table.progress("b")
    table.retry("b")  # between the count and the keeping

    assert not table.keep_summary("b", counted, [])
    assert table.kept_summary("b") is None
