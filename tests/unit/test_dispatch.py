"""Dispatcher turns on the table (real SQLite and PostgreSQL): every due job sent once, in due
order, shared by weight within the window and each batch's cap; nothing of a batch that does not
run but its paid-for jobs; on PostgreSQL, a turn reads the rows it sends, not the backlog."""

from collections import Counter

import pytest

from jobs.errors import ServerError, StorageError
from jobs.fair_share import FairShare
from jobs.records import Share
from jobs.results import ResultsTable
from jobs.states import JobState
from tests.support.dispatching import dispatched, one_turn
from tests.support.pg_reads import rows_read
from tests.support.tables import MODEL, ONE_IMAGE, loaded, specs

URL = "https://provider.example/img_0.jpeg"


def paid_and_due(table: ResultsTable, job_id: int) -> None:
    """The job's image is paid for; storing it failed, and it is due again at once."""
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_generated(
        claim, "w", provider_urls=[URL], inline_image=None, api_ms=1, call=ONE_IMAGE
    )
    assert table.record_failure(claim, "w", StorageError("down"), 5, retry_in=0).state is (
        JobState.generated
    )


def shared(table: ResultsTable, batch: str, keys: int, share: Share) -> list[int]:
    table.create_batch(batch, "m.jsonl", "./out", MODEL, share=share)
    ids = table.add_jobs(batch, specs(*[f"k{n}" for n in range(keys)]))
    return ids


def test_a_recorded_job_is_due_at_once_and_sent_once(table: ResultsTable) -> None:
    ids = loaded(table, *[f"k{n}" for n in range(10)])

    assert dispatched(table) == ids  # in manifest order
    assert dispatched(table) == []  # sent: no longer due


def test_a_turn_fills_the_window_and_no_more(table: ResultsTable) -> None:
    ids = loaded(table, *[f"k{n}" for n in range(10)])
    fair = FairShare()
    sent: list[int] = []

    assert one_turn(table, sent, fair, window=4).total == 4
    assert one_turn(table, sent, fair, window=4).total == 0  # four out, none claimed
    assert table.claim(ids[0], "w", 60) is not None
    assert one_turn(table, sent, fair, window=4).total == 1

    assert sent == ids[:5]


def test_batches_share_a_window_by_weight_interleaved(table: ResultsTable) -> None:
    light = shared(table, "light", 100, Share(weight=1))
    heavy = shared(table, "heavy", 100, Share(weight=2))

    sent = dispatched(table, window=30)

    assert Counter("light" if job in light else "heavy" for job in sent) == {
        "light": 10,
        "heavy": 20,
    }
    assert set(sent[:3]) & set(light)
    assert set(sent[:3]) & set(heavy)


def test_a_small_batch_submitted_behind_a_big_one_is_sent_in_the_next_turn(
    table: ResultsTable,
) -> None:
    fair = FairShare()
    sent: list[int] = []
    shared(table, "big", 500, Share())
    one_turn(table, sent, fair, window=100)
    small = shared(table, "small", 20, Share())
    with table.engine.begin() as conn:  # the fleet took the window's messages
        conn.exec_driver_sql("UPDATE jobs SET state = 'running' WHERE sent_at IS NOT NULL")

    one_turn(table, sent, fair, window=40)

    assert set(small) <= set(sent[100:])


def test_a_batch_gets_no_more_out_than_its_cap_and_the_rest_goes_to_others(
    table: ResultsTable,
) -> None:
    capped = shared(table, "capped", 50, Share(weight=10, max_in_flight=3))
    other = shared(table, "other", 50, Share())
    assert table.claim(capped[0], "w", 60) is not None  # one running already

    sent = dispatched(table, window=20)

    assert len(set(sent) & set(capped)) == 2
    assert len(set(sent) & set(other)) == 18


def test_a_paused_batch_sends_only_its_paid_for_jobs_and_resume_sends_the_rest(
    table: ResultsTable,
) -> None:
    paid, *rest = loaded(table, "paid", "a", "b", batch="paused")
    paid_and_due(table, paid)
    assert table.pause("paused")

    assert dispatched(table) == [paid]
    table.resume("paused")  # an unclaimed message may be lost: it is sent again
    assert dispatched(table) == [paid, *rest]


def test_resume_makes_due_the_messages_workers_refused_while_the_batch_was_paused(
    table: ResultsTable,
) -> None:
    ids = loaded(table, "a", "b")
    assert dispatched(table) == ids
    table.pause("b")
    assert table.claim(ids[0], "w", 60) is None  # refused: the batch does not run

    assert table.resume("b") == 2
    assert dispatched(table) == ids


def test_a_retry_waits_for_its_due_time(table: ResultsTable) -> None:
    (job,) = loaded(table, "a")
    dispatched(table)
    claim = table.claim(job, "w", 60)
    assert claim is not None
    table.record_failure(claim, "w", ServerError("503"), 5, retry_in=3600)

    assert dispatched(table) == []


def test_a_cancelled_batch_sends_nothing(table: ResultsTable) -> None:
    loaded(table, "a", "b")
    table.cancel("b")

    assert dispatched(table) == []


@pytest.mark.parametrize("table", ["postgresql"], indirect=True)
def test_a_turn_reads_the_rows_it_sends_not_the_backlog_nor_a_paused_batch(
    table: ResultsTable,
) -> None:
    size = 2000
    loaded(table, *[f"k{n}" for n in range(size)], batch="backlog")
    loaded(table, *[f"k{n}" for n in range(size)], batch="paused")
    table.pause("paused")
    finished = loaded(table, *[f"k{n}" for n in range(size)], batch="done")
    with table.engine.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE jobs SET state = 'succeeded', due_at = NULL WHERE batch_id = 'done'"
        )

    with rows_read(table.engine, "jobs") as read:
        sent = dispatched(table, window=100)
        assert len(sent) == 100
        assert read() < 500  # of 6,000 rows: the hundred sent, each read and written once

    assert not set(sent) & set(finished)
