"""What the queue does not hold, found in the table (real SQLite and PostgreSQL): expired
leases, due retries, pauses, budgets, and the user's resume, retry and cancel."""

import threading
from pathlib import Path

import pytest
import sqlalchemy

from jobs.database import open_engine
from jobs.errors import AuthError, BadImage, QuotaExceeded, ServerError, StorageError
from jobs.results import ResultsTable
from jobs.schema import metadata
from jobs.states import BatchState, JobState
from tests.support.dispatching import dispatched
from tests.support.tables import ONE_IMAGE, loaded, stored

URL = "https://provider.example/img_0.jpeg"


def attempt_rows(table: ResultsTable) -> list[tuple[int, str | None]]:
    with table.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT number, error_class FROM attempts ORDER BY job_id, number"
        ).all()
    return [tuple(row) for row in rows]


def job(table: ResultsTable, key: str) -> dict[str, object]:
    return next(row for row in table.job_rows("b") if row["key"] == key)


# -- expired leases -------------------------------------------------------------------------


def test_a_dead_workers_job_is_put_back_due_and_sent_once(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    dead = table.claim(job_id, "dead", lease_seconds=-1)
    assert dead is not None

    assert table.recover_expired_leases(max_attempts=5) == [JobState.queued]
    assert dispatched(table) == [job_id]
    assert dispatched(table) == []  # sent once: its due time is cleared

    row = job(table, "a")
    assert (row["state"], row["error_class"], row["lease_owner"]) == (
        "queued",
        "worker_lost",
        None,
    )
    assert attempt_rows(table) == [(1, "worker_lost")]
    table.record_succeeded(dead, "dead", stored())  # the dead holder can no longer write
    assert job(table, "a")["state"] == "queued"
    assert table.claim(job_id, "new", 60) is not None


def test_a_dead_workers_paid_for_job_comes_back_for_the_upload_only(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "dead", lease_seconds=-1)
    assert claim is not None
    table.record_generated(
        claim, "dead", provider_urls=[URL], inline_image=None, api_ms=1, call=ONE_IMAGE
    )

    table.recover_expired_leases(max_attempts=5)

    again = table.claim(job_id, "new", 60)
    assert again is not None
    assert again.provider_urls == (URL,)


def test_a_job_that_kills_its_worker_every_time_fails_at_the_attempt_limit(
    table: ResultsTable,
) -> None:
    [job_id] = loaded(table, "a")
    left_in = []
    for attempt in range(2):
        assert table.claim(job_id, f"dead{attempt}", lease_seconds=-1) is not None
        left_in += table.recover_expired_leases(max_attempts=2)

    assert left_in == [JobState.queued, JobState.failed]
    row = job(table, "a")
    assert (row["state"], row["error_class"]) == ("failed", "worker_lost")


def test_a_renewed_lease_is_not_taken_and_a_dead_holder_is_found_before_expiry(
    table: ResultsTable,
) -> None:
    live_id, dead_id = loaded(table, "live", "dead")
    assert table.claim(live_id, "host:1:11", lease_seconds=0.2) is not None
    assert table.claim(dead_id, "host:2:22", lease_seconds=60) is not None
    assert table.renew_leases([live_id, dead_id], "host:1:", 60) == 1

    assert table.recover_expired_leases(max_attempts=5) == []
    recovered = table.recover_expired_leases(
        max_attempts=5, batch_id="b", holder_is_dead=lambda owner: owner.startswith("host:2:")
    )

    assert recovered == [JobState.queued]
    assert job(table, "live")["state"] == "running"
    assert job(table, "dead")["state"] == "queued"


# -- pauses ---------------------------------------------------------------------------------


@pytest.mark.parametrize("error", [AuthError("bad token"), QuotaExceeded("4006: daily")])
def test_auth_and_quota_pause_the_batch_and_cost_the_job_nothing(
    table: ResultsTable, error: AuthError | QuotaExceeded
) -> None:
    first, second, paid = loaded(table, "first", "second", "paid")
    paid_claim = table.claim(paid, "w", 60)
    assert paid_claim is not None
    table.record_generated(
        paid_claim, "w", provider_urls=[URL], inline_image=None, api_ms=1, call=ONE_IMAGE
    )
    table.record_failure(paid_claim, "w", StorageError("down"), 5, retry_in=0)
    claim = table.claim(first, "w", 60)
    assert claim is not None

    state = table.record_failure(claim, "w", error, max_attempts=1, retry_in=0).state

    batch = table.get_batch("b")
    assert batch is not None
    assert batch.state is BatchState.paused
    resume = "fix it, then `seedream-batch resume b`"
    assert batch.paused_reason == f"{error.error_class}: {error.message}; {resume}"
    assert state is JobState.queued  # not failed, though it was its only attempt
    assert table.claim(second, "w", 60) is None  # nothing new starts while paused
    assert dispatched(table) == [paid]  # but a paid-for image is still stored

    # resume re-sends every waiting job: after a lost queue, the paid one's message is gone too
    assert table.resume("b") == 3
    assert sorted(dispatched(table)) == sorted([first, second, paid])
    assert table.claim(first, "w", 60) is not None


# -- budgets --------------------------------------------------------------------------------


def test_a_budget_pauses_the_batch_when_spent_and_resume_raises_it(table: ResultsTable) -> None:
    ids = loaded(table, "a", "b", "c", max_cost=0.06)  # two images at $0.03
    first, second = (table.claim(job_id, "w", 60) for job_id in ids[:2])
    assert first is not None
    assert second is not None

    assert table.claim(ids[2], "w", 60) is None
    batch = table.get_batch("b")
    assert batch is not None
    assert batch.state is BatchState.paused
    assert batch.paused_reason is not None
    assert batch.paused_reason.startswith("budget: 2 images")

    # a call that brought no image gives its place back; raising the budget lets the rest go
    table.record_failure(first, "w", ServerError("503"), 5, retry_in=0)
    table.resume("b", max_cost=0.09)
    assert table.claim(ids[2], "w", 60) is not None
    assert table.claim(ids[0], "w", 60) is not None
    assert (table.get_batch("b") or batch).budget_used == 3


def test_a_budget_holds_however_many_workers_race_for_it(table: ResultsTable) -> None:
    ids = loaded(table, *[f"k{n}" for n in range(12)], max_images=5)
    barrier = threading.Barrier(len(ids))
    claims = []

    def race(job_id: int) -> None:
        barrier.wait()
        claims.append(table.claim(job_id, f"w{job_id}", 60))

    threads = [threading.Thread(target=race, args=(job_id,)) for job_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(claim is not None for claim in claims) == 5
    assert (table.get_batch("b") or pytest.fail("batch b is not in the table")).budget_used == 5


# -- retry and cancel -----------------------------------------------------------------------


def failed(table: ResultsTable, job_id: int, error: Exception, image: bool = False) -> None:
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    if image:
        table.record_generated(
            claim, "w", provider_urls=[URL], inline_image=None, api_ms=1, call=ONE_IMAGE
        )
    decision = table.record_failure(claim, "w", error, 1, retry_in=0)  # type: ignore[arg-type]
    assert decision.state is JobState.failed


def test_retry_reopens_failed_jobs_by_class_or_key_and_never_pays_twice(
    table: ResultsTable,
) -> None:
    server, stored_late, bad, other = loaded(table, "server", "stored", "bad", "other")
    failed(table, server, ServerError("503"))
    failed(table, stored_late, StorageError("bucket down"), image=True)
    failed(table, bad, BadImage("html"), image=True)
    failed(table, other, ServerError("503"))

    assert table.retry("b", classes=[ServerError.error_class], keys=["server"]) == 1
    assert table.retry("b", keys=["stored", "bad"]) == 2

    assert sorted(dispatched(table)) == [server, stored_late, bad]
    assert job(table, "stored")["state"] == "generated"  # its image is paid for: upload only
    assert job(table, "bad")["state"] == "queued"
    assert job(table, "bad")["provider_url"] is None
    assert job(table, "other")["state"] == "failed"
    again = table.claim(server, "w", 60)
    assert again is not None
    assert again.counted_attempts == 1


def test_cancel_stops_waiting_jobs_and_lets_running_and_paid_ones_finish(
    table: ResultsTable,
) -> None:
    queued, waiting, running, paid = loaded(table, "queued", "waiting", "running", "paid")
    wait_claim = table.claim(waiting, "w", 60)
    assert wait_claim is not None
    table.record_failure(wait_claim, "w", ServerError("503"), 5, retry_in=30)
    running_claim = table.claim(running, "w", 60)
    paid_claim = table.claim(paid, "w", 60)
    assert running_claim is not None
    assert paid_claim is not None
    table.record_generated(
        paid_claim, "w", provider_urls=[URL], inline_image=None, api_ms=1, call=ONE_IMAGE
    )

    assert table.cancel("b") == 2

    # the running one fails transiently: it is cancelled, not retried; the paid one is stored
    table.record_failure(running_claim, "w", ServerError("503"), 5, retry_in=0)
    table.record_failure(paid_claim, "w", StorageError("down"), 5, retry_in=0)
    assert dispatched(table) == [paid]
    counts = table.counts("b")
    assert (counts[JobState.cancelled], counts[JobState.generated]) == (3, 1)
    assert job(table, "queued")["finished_at"] is not None
    assert queued


# -- older databases ------------------------------------------------------------------------


def test_a_database_from_an_older_version_gets_the_new_columns(tmp_path: Path) -> None:
    engine = open_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE batches (id VARCHAR(100) PRIMARY KEY, created_at DATETIME NOT NULL, "
            "manifest TEXT NOT NULL, output TEXT NOT NULL, model VARCHAR(200) NOT NULL, "
            "rejected INTEGER NOT NULL)"
        )
        conn.exec_driver_sql(
            "INSERT INTO batches VALUES ('old', '2026-01-01 00:00:00', 'm', './out', 'm', 0)"
        )

    ResultsTable(engine).create_schema()

    columns = {c["name"] for c in sqlalchemy.inspect(engine).get_columns("batches")}
    assert columns == {c.name for c in metadata.tables["batches"].columns}
    old = ResultsTable(engine).get_batch("old")
    assert old is not None
    assert old.state is BatchState.active
    assert old.budget_used == 0


# -- messages a killed worker took ----------------------------------------------------------


def test_jobs_left_unclaimed_after_their_message_was_sent_are_made_due(
    table: ResultsTable,
) -> None:
    taken, running, waiting = loaded(table, "taken", "running", "waiting")
    loaded(table, "paused", batch="other")
    table.cancel("other")
    dispatched(table)  # every message is out
    assert table.claim(running, "w", 60) is not None
    claim = table.claim(waiting, "w", 60)
    assert claim is not None
    table.record_failure(claim, "w", ServerError("503"), 5, retry_in=60)

    assert table.make_unclaimed_due(older_than_s=60) == 0  # sent too recently to tell
    assert table.make_unclaimed_due(older_than_s=0) == 1
    assert dispatched(table) == [taken]
