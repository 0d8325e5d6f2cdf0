"""Sending due jobs (real SQLite and PostgreSQL): every one exactly once and in due order across
chunks and batches; on PostgreSQL, by the rows it reads: each due row once, and none of a
batch that does not run, however many it has."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import pytest
import redis

from jobs import recovery
from jobs.errors import AuthError, ServerError, StorageError
from jobs.recovery import Enqueue
from jobs.results import ResultsTable
from jobs.states import JobState
from tests.support.pg_reads import rows_read
from tests.support.tables import ONE_IMAGE, loaded
from worker.reaper import AlwaysMyTurn, Reaper, RedisQueue, Turn

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


def test_every_due_job_is_sent_once_across_chunks_that_share_one_due_time(
    table: ResultsTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "CHUNK", 3)
    ids = loaded(table, *[f"k{n}" for n in range(10)])
    table.resume("b")  # every job due at one instant

    first: list[int] = []
    assert table.enqueue_due(first.extend, limit=7) == 7
    rest: list[int] = []
    assert table.enqueue_due(rest.extend) == 3

    assert first + rest == ids  # in (due time, id) order, none twice, none left out
    assert table.enqueue_due(rest.extend) == 0


def test_a_resume_cut_short_leaves_the_rest_of_its_jobs_to_the_next_sender_none_twice(
    table: ResultsTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "CHUNK", 3)
    ids = loaded(table, *[f"k{n}" for n in range(10)])
    assert table.resume("b") == 10
    sent: list[int] = []

    def broker_lost_after_a_chunk(chunk: Sequence[int]) -> None:
        if sent:
            raise ConnectionError("broker lost")
        sent.extend(chunk)

    with pytest.raises(ConnectionError):
        table.enqueue_due(broker_lost_after_a_chunk, batch_id="b")
    assert table.enqueue_due(sent.extend) == 7  # the reaper's turn, of every batch

    assert sent == ids
    assert table.enqueue_due(sent.extend) == 0


def test_due_jobs_go_in_due_order_across_batches_and_a_paused_one_sends_only_paid_jobs(
    table: ResultsTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recovery, "CHUNK", 2)
    early = loaded(table, "e1", "e2", "e3", batch="early")
    paid, stopped, _due_but_paused = loaded(table, "paid", "stopped", "due", batch="paused")
    late = loaded(table, "l1", "l2", "l3", batch="late")
    table.resume("early")
    table.resume("paused")  # every job of it due after early's ...
    paid_and_due(table, paid)  # ... and this one later still
    claim = table.claim(stopped, "w", 60)
    assert claim is not None
    table.record_failure(claim, "w", AuthError("bad token"), 5, retry_in=0)  # pauses the batch
    table.resume("late")

    sent: list[int] = []
    assert table.enqueue_due(sent.extend, limit=5) == 5
    assert table.enqueue_due(sent.extend) == 2

    assert sent == [*early, paid, *late]
    assert table.enqueue_due(sent.extend, batch_id="paused") == 0  # its due job waits for resume


@pytest.mark.parametrize("table", ["postgresql"], indirect=True)
def test_sending_a_resumed_batch_reads_each_due_row_once_not_once_per_chunk(
    table: ResultsTable, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 1500
    monkeypatch.setattr(recovery, "CHUNK", 100)
    ids = loaded(table, *[f"k{n}" for n in range(size)])
    table.resume("b")
    sent: list[int] = []

    with rows_read(table.engine, "jobs") as read:
        assert table.enqueue_due(sent.extend, batch_id="b") == size
        # once to send it, once to clear its due time; per chunk, every row left was read
        assert read() < 3 * size

    assert sent == ids


@pytest.mark.parametrize("table", ["postgresql"], indirect=True)
def test_a_reaper_turn_reads_no_row_of_a_paused_batch(
    table: ResultsTable, fresh_redis: str
) -> None:
    size = 1000
    paused = loaded(table, *[f"k{n}" for n in range(size)], batch="paused")
    table.resume("paused")
    table.enqueue_due(lambda _ids: None, batch_id="paused", limit=size // 2)  # half are sent
    paid_and_due(table, paused[-1])
    stopped = table.claim(paused[0], "w", 60)
    assert stopped is not None
    table.record_failure(stopped, "w", ServerError("503"), 5, retry_in=0)
    with table.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE batches SET state = 'paused' WHERE id = 'paused'")
    running = loaded(table, "r1", "r2", batch="running")  # never sent: their messages are lost
    sent: list[int] = []

    @contextmanager
    def enqueuer() -> Iterator[Enqueue]:
        yield sent.extend

    reaper = Reaper(
        table,
        enqueuer,
        AlwaysMyTurn(),
        RedisQueue(redis.Redis.from_url(fresh_redis), "empty"),
        max_attempts=5,
        lease_s=0,
        interval_s=60,
    )
    with rows_read(table.engine, "jobs") as read:
        assert reaper.reap() == Turn(recovered=0, unclaimed=2, sent=3)
        assert read() < 50  # of the paused batch's thousand rows, only its paid-for one

    assert sorted(sent) == sorted([paused[-1], *running])
