"""Reuse: a job whose image was paid for already is completed by copying it, with no call; two
jobs asking for one image at once pay once (real SQLite and PostgreSQL, fake client and storage)."""

import pytest
from sqlalchemy import update

from jobs.errors import ErrorClass
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.models.seedream_4_5 import Seedream45Input
from jobs.results import ResultsTable
from jobs.schema import jobs_table
from jobs.spec import JobSpec
from jobs.states import JobState
from tests.support.pipelines import PROVIDER_URL, FakeClient, FlakyStorage, pipeline
from worker.cloudflare import Generation, ProviderImage
from worker.pipeline import JobPipeline
from worker.reuse import REUSE_WAIT_S

SEEDREAM_4_0 = "bytedance/seedream-4.0"
FOX = Seedream40Input(prompt="a red fox in snow", size="1K")


def batch_with(table: ResultsTable, name: str, *specs: JobSpec, **options: object) -> list[int]:
    table.create_batch(name, "m.jsonl", "mem://", SEEDREAM_4_0, **options)  # type: ignore[arg-type]
    return table.add_jobs(name, list(specs))


def job(key: str, spec: Seedream40Input | Seedream45Input = FOX, **fields: object) -> JobSpec:
    return JobSpec(key=key, line=1, input=spec, **fields)  # type: ignore[arg-type]


def row_of(table: ResultsTable, batch: str, key: str) -> dict[str, object]:
    return next(row for row in table.job_rows(batch) if row["key"] == key)


@pytest.fixture
def storage() -> FlakyStorage:
    return FlakyStorage()


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def worker(table: ResultsTable, client: FakeClient, storage: FlakyStorage) -> JobPipeline:
    return pipeline(table, client, storage)


def test_a_job_asking_for_a_stored_image_copies_it_and_pays_nothing(
    table: ResultsTable, storage: FlakyStorage, client: FakeClient, worker: JobPipeline
) -> None:
    [first] = batch_with(table, "week-1", job("mug"), max_cost=1.0)
    [second] = batch_with(table, "week-2", job("mug-again"), max_cost=0.03)

    assert worker.run(first).state is JobState.succeeded
    assert worker.run(second).state is JobState.succeeded

    assert client.calls == 1
    copied = row_of(table, "week-2", "mug-again")
    assert copied["reused_from"] == first
    assert copied["cost"] is None
    assert copied["saved"] == pytest.approx(0.03)
    assert copied["output_uri"] == "mem://week-2/mug-again.jpg"
    assert copied["sha256"] == row_of(table, "week-1", "mug")["sha256"]
    data, content_type, metadata = storage.objects["week-2/mug-again.jpg"]
    assert data == storage.objects["week-1/mug.jpg"][0]
    assert content_type == "image/jpeg"
    assert (metadata["job-id"], metadata["reused-from"]) == (str(second), str(first))
    week_2 = table.get_batch("week-2")
    assert week_2 is not None
    assert week_2.budget_used == 0  # the claim's hold is given back: nothing was paid
    progress = table.progress("week-2")
    assert (progress.reused, progress.saved_usd, progress.spend_usd) == (1, 0.03, 0.0)


def test_other_metadata_and_keys_reuse_but_another_input_or_variant_pays(
    table: ResultsTable, storage: FlakyStorage, client: FakeClient, worker: JobPipeline
) -> None:
    ids = batch_with(
        table,
        "b",
        job("a", metadata={"sku": "1"}),
        job("b", metadata={"sku": "2"}),
        job("c", Seedream40Input(prompt="a red fox in snow", size="2K")),
        job("d/1", variant=1),
        job("d/2", variant=2),
    )

    for job_id in ids:
        assert worker.run(job_id).state is JobState.succeeded

    assert client.calls == 3  # a; c (another size); d/2 (another variant)
    reused = {row["key"]: row["reused_from"] for row in table.job_rows("b")}
    assert reused == {"a": None, "b": ids[0], "c": None, "d/1": ids[0], "d/2": None}


def test_a_fresh_batch_pays_for_every_image(
    table: ResultsTable, client: FakeClient, worker: JobPipeline
) -> None:
    [first] = batch_with(table, "one", job("mug"))
    [again] = batch_with(table, "two", job("mug"), fresh=True)

    worker.run(first)
    worker.run(again)

    assert client.calls == 2
    assert row_of(table, "two", "mug")["reused_from"] is None


def test_a_source_whose_image_is_gone_is_forgotten_and_the_job_pays(
    table: ResultsTable, storage: FlakyStorage, client: FakeClient, worker: JobPipeline
) -> None:
    [first] = batch_with(table, "one", job("mug"))
    [second] = batch_with(table, "two", job("mug"))
    worker.run(first)
    del storage.objects["one/mug.jpg"]

    assert worker.run(second).state is JobState.succeeded

    assert client.calls == 2
    assert row_of(table, "one", "mug")["address"] is None
    assert row_of(table, "two", "mug")["reused_from"] is None
    assert row_of(table, "two", "mug")["address"] is not None


def test_a_job_waits_for_another_paying_for_its_image_then_copies_it(
    table: ResultsTable, storage: FlakyStorage, client: FakeClient, worker: JobPipeline
) -> None:
    payer, waiter = batch_with(table, "b", job("first"), job("second"))
    _paying_elsewhere(table, payer)

    waiting = worker.run(waiter)

    assert waiting.state is JobState.queued
    assert waiting.retry_in == pytest.approx(REUSE_WAIT_S)
    assert client.calls == 0
    row = row_of(table, "b", "second")
    assert row["error_class"] == ErrorClass.reuse_wait.value
    assert row["free_attempts"] == 1  # waiting is not one of its attempts

    _finish_elsewhere(table, worker, payer)
    _due_now(table, waiter)
    assert worker.run(waiter).state is JobState.succeeded
    assert row_of(table, "b", "second")["reused_from"] == payer
    assert client.calls == 1


def test_a_payer_that_failed_is_taken_over_by_the_next_job(
    table: ResultsTable, storage: FlakyStorage, client: FakeClient, worker: JobPipeline
) -> None:
    payer, other = batch_with(table, "b", job("first"), job("second"))
    _paying_elsewhere(table, payer)
    _fail(table, payer)

    assert worker.run(other).state is JobState.succeeded
    assert client.calls == 1
    assert row_of(table, "b", "second")["reused_from"] is None


def test_a_job_whose_input_image_is_a_url_has_no_address_and_always_pays(
    table: ResultsTable, storage: FlakyStorage, client: FakeClient, worker: JobPipeline
) -> None:
    edit = Seedream40Input(prompt="make it blue", image="https://images.example/mug.jpg")
    first, second = batch_with(table, "b", job("one", edit), job("two", edit))

    worker.run(first)
    worker.run(second)

    assert client.calls == 2
    assert row_of(table, "b", "one")["address"] is None


def _paying_elsewhere(table: ResultsTable, job_id: int) -> None:
    """Another worker claims the job and takes its address to pay for it."""
    paying = table.claim(job_id, "other-worker", 60)
    assert paying is not None
    assert paying.address is not None
    assert table.hold_address(paying.address, job_id) == job_id


def _finish_elsewhere(table: ResultsTable, worker: JobPipeline, job_id: int) -> None:
    """The other worker's lease runs out and this one finishes the paying job."""
    with table.engine.begin() as conn:
        conn.execute(
            update(jobs_table)
            .where(jobs_table.c.id == job_id)
            .values(state="queued", lease_owner=None, lease_expires_at=None, due_at=None)
        )
    assert worker.run(job_id).state is JobState.succeeded


def _due_now(table: ResultsTable, job_id: int) -> None:
    with table.engine.begin() as conn:
        conn.execute(update(jobs_table).where(jobs_table.c.id == job_id).values(due_at=None))


def _fail(table: ResultsTable, job_id: int) -> None:
    with table.engine.begin() as conn:
        conn.execute(
            update(jobs_table)
            .where(jobs_table.c.id == job_id)
            .values(state="failed", lease_owner=None, lease_expires_at=None)
        )


def test_a_job_of_several_images_copies_each_into_its_own_folder(
    table: ResultsTable, storage: FlakyStorage
) -> None:
    answer = Generation(tuple(ProviderImage(url=f"{PROVIDER_URL}?n={n}") for n in range(2)))
    client = FakeClient(answer=answer)
    worker = pipeline(table, client, storage)
    comic = Seedream45Input(prompt="a comic", sequential_image_generation="auto", max_images=2)
    for name in ("one", "two"):
        table.create_batch(name, "m.jsonl", "mem://", "bytedance/seedream-4.5")
    [first] = table.add_jobs("one", [job("strip", comic)])
    [second] = table.add_jobs("two", [job("strip", comic)])

    worker.run(first)
    assert worker.run(second).state is JobState.succeeded

    assert client.calls == 1
    assert {"two/strip/0.jpg", "two/strip/1.jpg"} <= set(storage.objects)
    progress = table.progress("two")
    assert progress.reused == 1
    assert progress.saved_usd == pytest.approx(2 * 0.03)


def test_a_payer_waiting_for_a_retry_or_a_resume_is_taken_over(
    table: ResultsTable, client: FakeClient, worker: JobPipeline
) -> None:
    payer, other = batch_with(table, "b", job("first"), job("second"))
    _paying_elsewhere(table, payer)
    with table.engine.begin() as conn:  # its call failed: back in the queue, due later
        conn.execute(
            update(jobs_table)
            .where(jobs_table.c.id == payer)
            .values(state="queued", lease_owner=None, lease_expires_at=None)
        )

    assert worker.run(other).state is JobState.succeeded
    assert client.calls == 1
