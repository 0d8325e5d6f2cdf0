"""The results table on real SQLite and real PostgreSQL: claims, leases, states, duplicates."""

import threading
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError

from jobs.errors import BadImage, ServerError
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.results import ResultsTable
from jobs.schema import attempts_table
from jobs.spec import JobSpec
from jobs.states import JobState
from tests.support.dispatching import dispatched
from tests.support.tables import ONE_IMAGE, loaded, specs, stored


def test_a_job_is_claimed_once_however_many_threads_race_for_it(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claims = []
    barrier = threading.Barrier(8)

    def race(n: int) -> None:
        barrier.wait()
        claims.append(table.claim(job_id, f"w{n}", 60))

    threads = [threading.Thread(target=race, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(claim is not None for claim in claims) == 1


def test_an_attempt_row_is_written_with_its_claim_and_closed_with_its_success(
    table: ResultsTable,
) -> None:
    """On PostgreSQL each of the three writes of a job that succeeds is one statement (the job
    and its attempt row together); on SQLite they are separate statements in a transaction."""
    first, job_id = loaded(table, "first", "a")
    assert table.claim(first, "w0", 60) is not None  # the batch's first claim also starts it
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    event.listen(table.engine, "before_cursor_execute", count)
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    assert claim.attempt == 1
    assert not claim.budgeted
    table.record_generated(
        claim, "w", provider_urls=["https://p/x"], inline_image=None, api_ms=7, call=ONE_IMAGE
    )
    table.record_succeeded(claim, "w", stored())
    event.remove(table.engine, "before_cursor_execute", count)

    with table.engine.connect() as conn:
        [attempt] = conn.execute(
            select(attempts_table).where(attempts_table.c.job_id == job_id)
        ).all()
    assert (attempt.number, attempt.worker, attempt.error_class) == (1, "w", None)
    assert attempt.started_at is not None
    assert attempt.finished_at is not None
    if table.engine.dialect.name == "postgresql":
        assert len(statements) == 3, statements


def test_a_leased_job_is_not_claimed_even_after_its_lease_expired(table: ResultsTable) -> None:
    """Taking over an expired lease is the reaper's (jobs.recovery): it closes the lost attempt
    first. A claim never takes a leased job."""
    [job_id] = loaded(table, "a")
    assert table.claim(job_id, "old", lease_seconds=-1) is not None

    assert table.claim(job_id, "new", lease_seconds=60) is None


def test_a_generated_job_is_claimed_for_the_upload_only(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_generated(
        claim,
        "w",
        provider_urls=["https://provider/img.jpeg"],
        inline_image=None,
        api_ms=5,
        call=ONE_IMAGE,
    )
    table.record_failure(claim, "w", ServerError("storage down"), max_attempts=5, retry_in=0)

    again = table.claim(job_id, "w2", 60)

    assert again is not None
    assert again.provider_urls == ("https://provider/img.jpeg",)
    assert again.paid_for
    assert again.attempt == 2
    assert table.counts("b")[JobState.generated] == 1


def test_an_inline_image_is_kept_until_stored_then_dropped(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_generated(
        claim, "w", provider_urls=[], inline_image=b"\xff\xd8\xffjpeg", api_ms=5, call=ONE_IMAGE
    )
    table.record_failure(claim, "w", ServerError("bucket down"), max_attempts=5, retry_in=0)

    again = table.claim(job_id, "w2", 60)
    assert again is not None
    assert again.inline_image == b"\xff\xd8\xffjpeg"
    table.record_succeeded(again, "w2", stored())

    with table.engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT inline_image FROM jobs").scalar_one()
    assert kept is None


def test_a_final_error_fails_the_job_and_a_transient_one_waits_until_due(
    table: ResultsTable,
) -> None:
    final_id, transient_id = loaded(table, "final", "transient")
    final = table.claim(final_id, "w", 60)
    transient = table.claim(transient_id, "w", 60)
    assert final is not None
    assert transient is not None

    assert table.record_failure(final, "w", BadImage("html"), 5, 0).state is JobState.failed
    assert table.record_failure(transient, "w", ServerError("503"), 5, 60).state is JobState.queued

    assert [cls for cls, _, _ in table.error_summary("b")] == ["bad_image"]
    assert table.claim(transient_id, "early", 60) is None  # a stray message cannot jump the wait
    assert transient_id not in dispatched(table)


def test_a_transient_error_on_the_last_attempt_fails_the_job(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    state = table.record_failure(claim, "w", ServerError("503"), max_attempts=1, retry_in=0).state
    assert state is JobState.failed


def test_every_attempt_keeps_its_class_and_message(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    for owner, error in (("w1", ServerError("503 once")), ("w2", BadImage("html page"))):
        claim = table.claim(job_id, owner, 60)
        assert claim is not None
        table.record_failure(claim, owner, error, max_attempts=5, retry_in=0)

    with table.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT number, worker, error_class, error_message FROM attempts ORDER BY number"
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, "w1", "server_error", "503 once"),
        (2, "w2", "bad_image", "html page"),
    ]


def test_a_key_the_batch_has_fails_its_whole_chunk_and_records_none_of_it(
    table: ResultsTable,
) -> None:
    """The manifest reader refuses repeated keys; a caller that slips one through loses the
    chunk, loudly, rather than recording two jobs for one output."""
    table.create_batch("b", "m.jsonl", "./out", "m")
    [first] = table.add_jobs("b", specs("a"))

    with pytest.raises(IntegrityError):
        table.add_jobs("b", specs("b", "a"))
    with pytest.raises(IntegrityError):
        table.add_jobs("b", specs("c", "c"))

    assert [(row["id"], row["key"]) for row in table.job_rows("b")] == [(first, "a")]


def test_added_jobs_keep_their_call_and_metadata_exactly_and_are_queued_in_line_order(
    table: ResultsTable,
) -> None:
    table.create_batch("b", "m.jsonl", "./out", "m")
    call = Seedream40Input(prompt="une tasse « café » ☕", size="custom", width=1024, height=2048)
    meta = {"caption": "naïve", "labels": ["a", 1, None], "nested": {"x": 1.5}}
    first = JobSpec(key="s/1", line=7, input=call, metadata=meta)
    second = JobSpec(key="s/2", line=9, input=Seedream40Input(prompt="plain"))

    ids = table.add_jobs("b", [first, second])

    rows = table.job_rows("b")
    assert [row["id"] for row in rows] == ids
    assert ids == sorted(ids)
    assert rows[0]["spec"] == call.payload()
    assert rows[0]["metadata"] == meta
    assert rows[1]["spec"] == {"prompt": "plain"}
    assert rows[1]["metadata"] == {}
    assert [(row["key"], row["line"], row["state"]) for row in rows] == [
        ("s/1", 7, "queued"),
        ("s/2", 9, "queued"),
    ]


def test_success_records_where_the_image_is_and_ends_the_lease(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_generated(
        claim, "w", provider_urls=["https://p/x"], inline_image=None, api_ms=7, call=ONE_IMAGE
    )
    table.record_succeeded(claim, "w", stored())

    [row] = table.job_rows("b")
    assert row["state"] == "succeeded"
    assert row["output_uri"] == "file:///x.jpg"
    assert row["lease_owner"] is None
    assert row["api_ms"] == 7
    assert table.spend("b") == pytest.approx(0.03)
    assert table.claim(job_id, "w2", 60) is None


def test_a_stored_image_drops_its_signed_provider_url(table: ResultsTable) -> None:
    """The provider's URL is signed (a credential for 24 h): kept only until the image is stored."""
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    signed = "https://cdn.test/x.jpeg?X-Amz-Signature=0123abcd"
    table.record_generated(
        claim, "w", provider_urls=[signed], inline_image=None, api_ms=7, call=ONE_IMAGE
    )

    table.record_succeeded(claim, "w", stored())

    with table.engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT provider_url, inline_image FROM jobs").one()
    assert tuple(kept) == (None, None)
