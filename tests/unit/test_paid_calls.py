"""What a worker pays for and keeps: every image of a call stored and billed, every paid call
counted (a call paid again adds), each call tagged with its job for AI Gateway's logs.

The client and storage are fakes; the results table is real SQLite.
"""

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from jobs.database import open_engine
from jobs.errors import BadImage
from jobs.models import ModelAdapter
from jobs.records import PaidCall
from jobs.results import ResultsTable
from jobs.schema import attempts_table, job_images_table
from jobs.spec import JobSpec
from jobs.states import BatchState, JobState
from tests.support.generations import from_bytes
from tests.support.images import image_bytes
from tests.support.models import SeveralInput
from tests.support.pipelines import JPEG, FakeClient, FlakyStorage, one_job, pipeline
from worker.responses import Generation, ProviderImage

PRICE = 0.04
URLS = tuple(f"https://provider.example/img_{n}.jpeg" for n in range(3))


@pytest.fixture
def table(tmp_path: Path) -> ResultsTable:
    results = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    results.create_schema()
    results.create_batch("b", "m.jsonl", "mem://", "bytedance/seedream-4.0", price_per_image=PRICE)
    return results


def several_job(table: ResultsTable, model: ModelAdapter, count: int, **budget: Any) -> int:
    """A batch `s` of `model` holding one job that asks for `count` images."""
    table.create_batch("s", "m.jsonl", "mem://", model.name, price_per_image=PRICE, **budget)
    spec = JobSpec(key="k", line=1, input=SeveralInput(prompt="a fox", count=count))
    [job_id] = table.add_jobs("s", [spec])
    return job_id


def answer_of(*urls: str, log_id: str = "log-1") -> Generation:
    return Generation(tuple(ProviderImage(url=url) for url in urls), log_id, "req-1")


def attempts_of(table: ResultsTable, job_id: int) -> list[dict[str, Any]]:
    query = (
        select(attempts_table)
        .where(attempts_table.c.job_id == job_id)
        .order_by(attempts_table.c.number)
    )
    with table.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query)]


def images_of(table: ResultsTable, job_id: int) -> list[tuple[int, str]]:
    query = (
        select(job_images_table.c.n, job_images_table.c.output_uri)
        .where(job_images_table.c.job_id == job_id)
        .order_by(job_images_table.c.n)
    )
    with table.engine.connect() as conn:
        return [(n, uri) for n, uri in conn.execute(query)]


def test_every_image_of_a_call_is_stored_under_the_jobs_folder_and_billed(
    table: ResultsTable, several_images_model: ModelAdapter
) -> None:
    job_id = several_job(table, several_images_model, count=3)
    client, storage = FakeClient(answer=answer_of(*URLS)), FlakyStorage()

    outcome = pipeline(table, client, storage).run(job_id)

    assert outcome.state is JobState.succeeded
    assert sorted(storage.objects) == ["s/k/0.jpg", "s/k/1.jpg", "s/k/2.jpg"]
    assert images_of(table, job_id) == [(n, f"mem://s/k/{n}.jpg") for n in range(3)]
    [row] = table.job_rows("s")
    assert row["output_uri"] == "mem://s/k/0.jpg"
    assert row["cost"] == pytest.approx(3 * PRICE)
    assert row["log_id"] == "log-1"
    [attempt] = attempts_of(table, job_id)
    assert (attempt["images"], attempt["log_id"], attempt["request_id"]) == (3, "log-1", "req-1")
    assert attempt["cost"] == pytest.approx(3 * PRICE)
    assert table.spend("s") == pytest.approx(3 * PRICE)


def test_a_job_of_one_image_keeps_the_flat_key(table: ResultsTable) -> None:
    job_id, storage = one_job(table), FlakyStorage()

    pipeline(table, FakeClient(), storage).run(job_id)

    assert list(storage.objects) == ["b/k.jpg"]
    assert images_of(table, job_id) == []


def test_a_call_of_several_that_returns_fewer_stores_what_came(
    table: ResultsTable, several_images_model: ModelAdapter
) -> None:
    job_id = several_job(table, several_images_model, count=3)
    storage = FlakyStorage()

    pipeline(table, FakeClient(answer=answer_of(URLS[0])), storage).run(job_id)

    assert list(storage.objects) == ["s/k/0.jpg"]
    assert table.spend("s") == pytest.approx(PRICE)


def test_a_budget_holds_back_the_most_a_call_may_return_and_gives_back_the_rest(
    table: ResultsTable, several_images_model: ModelAdapter
) -> None:
    job_id = several_job(table, several_images_model, count=3, max_images=4)
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    assert claim.budgeted == 3
    assert budget_used(table, "s") == 3

    table.record_generated(
        claim, "w", provider_urls=[URLS[0]], inline_image=None, api_ms=1, call=PaidCall(1)
    )

    assert budget_used(table, "s") == 1


def budget_used(table: ResultsTable, batch_id: str) -> int:
    batch = table.get_batch(batch_id)
    assert batch is not None
    return batch.budget_used


def test_a_budget_too_small_for_a_calls_images_pauses_the_batch(
    table: ResultsTable, several_images_model: ModelAdapter
) -> None:
    job_id = several_job(table, several_images_model, count=5, max_images=4)

    assert table.claim(job_id, "w", 60) is None

    batch = table.get_batch("s")
    assert batch is not None
    assert batch.state is BatchState.paused
    assert budget_used(table, "s") == 0


def test_a_call_paid_again_after_a_bad_image_adds_to_the_jobs_cost(table: ResultsTable) -> None:
    job_id = one_job(table)
    html = b"<html>not an image</html>"
    client, storage = FakeClient(), FlakyStorage()

    first = pipeline(table, client, storage, download=html).run(job_id)
    assert first.state is JobState.failed
    table.retry("b")
    second = pipeline(table, client, storage).run(job_id)

    assert second.state is JobState.succeeded
    assert client.calls == 2
    [row] = table.job_rows("b")
    assert row["cost"] == pytest.approx(2 * PRICE)
    assert [attempt["images"] for attempt in attempts_of(table, job_id)] == [1, 1]


def test_an_inline_image_that_is_not_one_is_still_counted_as_paid(table: ResultsTable) -> None:
    job_id = one_job(table)
    client = FakeClient(answer=from_bytes(b"\xff\xd8\xff but no JPEG after all"))

    outcome = pipeline(table, client, FlakyStorage()).run(job_id)

    assert outcome.state is JobState.failed
    [row] = table.job_rows("b")
    assert row["error_class"] == BadImage.error_class
    assert row["cost"] == pytest.approx(PRICE)
    [attempt] = attempts_of(table, job_id)
    assert attempt["images"] == 1


def test_each_call_tells_the_gateway_its_batch_job_and_attempt(table: ResultsTable) -> None:
    job_id, client = one_job(table), FakeClient()

    pipeline(table, client, FlakyStorage()).run(job_id)

    assert client.metadata == [{"batch": "b", "key": "k", "job": job_id, "attempt": 1}]


def test_an_image_kept_from_an_earlier_attempt_is_stored_without_a_call(
    table: ResultsTable, several_images_model: ModelAdapter
) -> None:
    job_id = several_job(table, several_images_model, count=2)
    client = FakeClient(answer=answer_of(*URLS[:2]))

    failed = pipeline(table, client, FlakyStorage(failures=1)).run(job_id)
    assert failed.state is JobState.generated
    storage = FlakyStorage()
    pipeline(table, client, storage).run(job_id)

    assert client.calls == 1
    assert sorted(storage.objects) == ["s/k/0.jpg", "s/k/1.jpg"]
    assert table.spend("s") == pytest.approx(2 * PRICE)


def test_a_png_and_a_jpeg_in_one_answer_each_keep_their_extension(
    table: ResultsTable, several_images_model: ModelAdapter
) -> None:
    job_id = several_job(table, several_images_model, count=2)
    png = image_bytes("PNG", (8, 8))
    downloads = iter([JPEG, png])
    storage = FlakyStorage()
    worker = pipeline(table, FakeClient(answer=answer_of(*URLS[:2])), storage)
    worker.fetch_http = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=next(downloads)))
    )

    worker.run(job_id)

    assert sorted(storage.objects) == ["s/k/0.jpg", "s/k/1.png"]
