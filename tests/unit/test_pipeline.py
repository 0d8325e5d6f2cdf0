"""JobPipeline: each step recorded before the next, so nothing is paid for twice.

The client and storage are fakes; the results table is real SQLite and the image download goes
through httpx with a MockTransport.
"""

from pathlib import Path

import httpx
import pytest

from config.settings import Settings
from jobs.database import open_engine
from jobs.errors import ContentPolicy, ServerError, StorageError
from jobs.results import ResultsTable
from jobs.spec import ImageInput, JobSpec
from jobs.states import JobState
from tests.support.images import image_bytes
from worker.cloudflare import Generation
from worker.pipeline import JobPipeline

PROVIDER_URL = "https://provider.example/seedream/abc_0.jpeg"


class FakeClient:
    """Answers with a URL, or raises the errors it is given, and counts the calls (the bill)."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    def generate(self, spec: ImageInput) -> Generation:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return Generation(url=PROVIDER_URL)


class FlakyStorage:
    """Fails the first `failures` puts, then keeps what it is given."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.objects: dict[str, tuple[bytes, str, dict[str, str]]] = {}

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> str:
        if self.failures:
            self.failures -= 1
            raise StorageError("bucket unreachable")
        self.objects[key] = (data, content_type, metadata)
        return f"mem://{key}"


@pytest.fixture
def table(tmp_path: Path) -> ResultsTable:
    results = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    results.create_schema()
    results.create_batch("b", "m.jsonl", "mem://", "bytedance/seedream-4.0")
    return results


def one_job(table: ResultsTable) -> int:
    [job_id], _ = table.add_jobs("b", [JobSpec(key="k", line=1, input=ImageInput(prompt="a fox"))])
    return job_id


def pipeline(table: ResultsTable, client: FakeClient, storage: FlakyStorage) -> JobPipeline:
    jpeg = image_bytes("JPEG", (64, 48))
    downloads = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=jpeg))
    )
    settings = Settings(_env_file=None, max_attempts=3)
    return JobPipeline(settings, table, client, downloads, lambda _output: storage)  # type: ignore[arg-type]


def test_a_job_is_generated_fetched_stored_and_recorded(table: ResultsTable) -> None:
    job_id, client, storage = one_job(table), FakeClient(), FlakyStorage()

    outcome = pipeline(table, client, storage).run(job_id)

    assert outcome.state is JobState.succeeded and outcome.retry_in is None
    [row] = table.job_rows("b")
    assert (row["state"], row["width"], row["height"]) == ("succeeded", 64, 48)
    assert row["output_uri"] == "mem://b/k.jpg" and row["provider_url"] == PROVIDER_URL
    data, content_type, metadata = storage.objects["b/k.jpg"]
    assert content_type == "image/jpeg" and metadata["job-id"] == str(job_id)
    assert len(metadata["prompt-sha256"]) == 64


def test_a_storage_failure_retries_the_upload_without_calling_the_api_again(
    table: ResultsTable,
) -> None:
    job_id, client, storage = one_job(table), FakeClient(), FlakyStorage(failures=1)
    run = pipeline(table, client, storage).run

    first = run(job_id)
    assert first.state is JobState.generated and first.retry_in is not None
    second = run(job_id)

    assert second.state is JobState.succeeded
    assert client.calls == 1
    assert list(storage.objects) == ["b/k.jpg"]


def test_a_transient_provider_error_requeues_with_a_delay(table: ResultsTable) -> None:
    job_id = one_job(table)
    client = FakeClient(ServerError("503", retry_after=7))

    outcome = pipeline(table, client, FlakyStorage()).run(job_id)

    assert outcome.state is JobState.queued and outcome.retry_in == 7
    assert table.job_rows("b")[0]["error_class"] == "server_error"


def test_a_final_error_fails_the_job_at_once(table: ResultsTable) -> None:
    job_id = one_job(table)

    outcome = pipeline(table, FakeClient(ContentPolicy("flagged")), FlakyStorage()).run(job_id)

    assert outcome.state is JobState.failed and outcome.retry_in is None


def test_transient_errors_stop_at_the_attempt_limit(table: ResultsTable) -> None:
    job_id = one_job(table)
    client = FakeClient(*[ServerError("503")] * 3)
    run = pipeline(table, client, FlakyStorage()).run

    states = [run(job_id).state for _ in range(3)]

    assert states == [JobState.queued, JobState.queued, JobState.failed]
    assert run(job_id).state is None


def test_a_message_for_a_finished_job_does_nothing(table: ResultsTable) -> None:
    job_id, client = one_job(table), FakeClient()
    run = pipeline(table, client, FlakyStorage()).run
    run(job_id)

    assert run(job_id).state is None
    assert client.calls == 1
