"""The results table on real SQLite and real PostgreSQL: claims, leases, states, duplicates."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobs.database import open_engine
from jobs.errors import BadImage, ServerError
from jobs.results import ResultsTable, StoredImage
from jobs.schema import metadata
from jobs.spec import ImageInput, JobSpec
from jobs.states import JobState


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


def specs(*keys: str) -> list[JobSpec]:
    return [
        JobSpec(key=k, line=n + 1, input=ImageInput(prompt=f"p {k}")) for n, k in enumerate(keys)
    ]


def loaded(table: ResultsTable, *keys: str) -> list[int]:
    table.create_batch("b", "m.jsonl", "./out", "bytedance/seedream-4.0")
    ids, duplicates = table.add_jobs("b", specs(*keys))
    assert not duplicates
    return ids


def stored() -> StoredImage:
    return StoredImage("file:///x.jpg", 10, "0" * 64, 1024, 1024, 1, 1)


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


def test_an_expired_lease_can_be_taken_over_and_the_old_holder_can_no_longer_write(
    table: ResultsTable,
) -> None:
    [job_id] = loaded(table, "a")
    first = table.claim(job_id, "old", lease_seconds=-1)
    assert first is not None
    second = table.claim(job_id, "new", lease_seconds=60)
    assert second is not None and second.attempt == 2

    table.record_succeeded(first, "old", stored())

    assert table.counts("b")[JobState.running] == 1


def test_a_generated_job_is_claimed_for_the_upload_only(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_generated(claim, "w", "https://provider/img.jpeg", api_ms=5, cost=0.03)
    table.record_failure(claim, "w", ServerError("storage down"), max_attempts=5)

    again = table.claim(job_id, "w2", 60)

    assert again is not None and again.provider_url == "https://provider/img.jpeg"
    assert table.counts("b")[JobState.generated] == 1


def test_a_final_error_fails_the_job_and_a_transient_one_requeues_it(table: ResultsTable) -> None:
    final_id, transient_id = loaded(table, "final", "transient")
    final = table.claim(final_id, "w", 60)
    transient = table.claim(transient_id, "w", 60)
    assert final is not None and transient is not None

    assert table.record_failure(final, "w", BadImage("html"), 5) is JobState.failed
    assert table.record_failure(transient, "w", ServerError("503"), 5) is JobState.queued
    assert [cls for cls, _, _ in table.error_summary("b")] == ["bad_image"]
    assert list(table.unfinished_job_ids("b")) == [transient_id]


def test_a_transient_error_on_the_last_attempt_fails_the_job(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    assert table.record_failure(claim, "w", ServerError("503"), max_attempts=1) is JobState.failed


def test_a_duplicate_key_is_reported_with_the_line_that_has_it_first(table: ResultsTable) -> None:
    table.create_batch("b", "m.jsonl", "./out", "m")
    ids, duplicates = table.add_jobs("b", specs("a", "b", "a"))
    later_ids, later_duplicates = table.add_jobs("b", specs("b"))

    assert len(ids) == 2
    assert [(d.spec.key, d.spec.line, d.first_line) for d in duplicates] == [("a", 3, 1)]
    assert later_ids == [] and [d.first_line for d in later_duplicates] == [2]


def test_added_jobs_keep_their_call_and_metadata_exactly_and_are_queued_in_line_order(
    table: ResultsTable,
) -> None:
    table.create_batch("b", "m.jsonl", "./out", "m")
    call = ImageInput(prompt="une tasse « café » ☕", size="custom", width=1024, height=2048)
    meta = {"caption": "naïve", "labels": ["a", 1, None], "nested": {"x": 1.5}}
    first = JobSpec(key="s/1", line=7, input=call, metadata=meta)
    second = JobSpec(key="s/2", line=9, input=ImageInput(prompt="plain"))

    ids, _ = table.add_jobs("b", [first, second])

    rows = table.job_rows("b")
    assert [row["id"] for row in rows] == ids and ids == sorted(ids)
    assert rows[0]["spec"] == call.payload() and rows[0]["metadata"] == meta
    assert rows[1]["spec"] == {"prompt": "plain"} and rows[1]["metadata"] == {}
    assert [(row["key"], row["line"], row["state"]) for row in rows] == [
        ("s/1", 7, "queued"),
        ("s/2", 9, "queued"),
    ]


def test_success_records_where_the_image_is_and_ends_the_lease(table: ResultsTable) -> None:
    [job_id] = loaded(table, "a")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_generated(claim, "w", None, api_ms=7, cost=0.03)
    table.record_succeeded(claim, "w", stored())

    [row] = table.job_rows("b")
    assert row["state"] == "succeeded" and row["output_uri"] == "file:///x.jpg"
    assert row["lease_owner"] is None and row["api_ms"] == 7
    assert table.spend("b") == pytest.approx(0.03)
    assert table.claim(job_id, "w2", 60) is None


def test_cancel_stops_queued_jobs_but_not_running_ones(table: ResultsTable) -> None:
    running_id, _ = loaded(table, "running", "queued")
    assert table.claim(running_id, "w", 60) is not None

    assert table.cancel_unfinished("b") == 1
    counts = table.counts("b")
    assert counts[JobState.cancelled] == 1 and counts[JobState.running] == 1
