"""JobPipeline: each step recorded before the next, so nothing is paid for twice.

The client and storage are fakes; the results table is real SQLite and the image download goes
through httpx with a MockTransport.
"""

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import SpooledTemporaryFile

import httpx
import pytest
import redis
from sqlalchemy import select

from config.settings import Settings
from jobs.database import open_engine
from jobs.errors import AuthError, ContentPolicy, ServerError
from jobs.models import ModelAdapter, ModelInput
from jobs.results import ResultsTable
from jobs.schema import jobs_table
from jobs.states import JobState
from tests.support.dispatching import dispatched
from tests.support.generations import from_bytes, from_url
from tests.support.images import image_bytes
from tests.support.pipelines import JPEG, FakeClient, FlakyStorage, one_job, pipeline
from tests.support.raw_http import LoopbackOnlyNetwork, RawHttpServer, answer, sends
from worker import pipeline as pipeline_module
from worker.address_policy import AddressPolicy
from worker.cloudflare import CallMetadata, CloudflareClient, Generation
from worker.guarded_network import guarded_client
from worker.pipeline import JobPipeline, Outcome
from worker.spool import ImageFile, open_spool


@pytest.fixture
def table(tmp_path: Path) -> ResultsTable:
    results = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    results.create_schema()
    results.create_batch("b", "m.jsonl", "mem://", "bytedance/seedream-4.0")
    return results


def test_a_job_is_generated_fetched_stored_and_recorded(table: ResultsTable) -> None:
    job_id, client, storage = one_job(table), FakeClient(), FlakyStorage()

    outcome = pipeline(table, client, storage).run(job_id)

    assert outcome.state is JobState.succeeded
    assert outcome.retry_in is None
    [row] = table.job_rows("b")
    assert (row["state"], row["width"], row["height"]) == ("succeeded", 64, 48)
    assert row["output_uri"] == "mem://b/k.jpg"
    assert row["provider_url"] is None
    data, content_type, metadata = storage.objects["b/k.jpg"]
    assert data == JPEG
    assert content_type == "image/jpeg"
    assert metadata["job-id"] == str(job_id)
    assert len(metadata["prompt-sha256"]) == 64


def test_an_image_sent_inline_is_stored_without_a_download(table: ResultsTable) -> None:
    job_id, storage = one_job(table), FlakyStorage()
    client = FakeClient(answer=from_bytes(JPEG))

    outcome = pipeline(table, client, storage, download=b"not this").run(job_id)

    assert outcome.state is JobState.succeeded
    assert storage.objects["b/k.jpg"][0] == JPEG
    assert table.job_rows("b")[0]["sha256"] is not None


@pytest.mark.parametrize(
    ("storage", "download", "state"),
    [
        (FlakyStorage(), JPEG, JobState.succeeded),
        (FlakyStorage(failures=1), JPEG, JobState.generated),
        (FlakyStorage(), b"<html>expired</html>", JobState.failed),
    ],
    ids=["stored", "storage failed", "not an image"],
)
def test_the_spool_is_closed_whatever_becomes_of_the_job(
    table: ResultsTable,
    monkeypatch: pytest.MonkeyPatch,
    storage: FlakyStorage,
    download: bytes,
    state: JobState,
) -> None:
    opened: list[SpooledTemporaryFile[bytes]] = []

    def recording_spool(memory_bytes: int) -> SpooledTemporaryFile[bytes]:
        opened.append(open_spool(memory_bytes))
        return opened[-1]

    monkeypatch.setattr(pipeline_module, "open_spool", recording_spool)

    outcome = pipeline(table, FakeClient(), storage, download).run(one_job(table))

    assert outcome.state is state
    assert len(opened) == 1
    assert opened[0].closed


def test_a_storage_failure_retries_the_upload_without_calling_the_api_again(
    table: ResultsTable,
) -> None:
    job_id, client, storage = one_job(table), FakeClient(), FlakyStorage(failures=1)
    run = pipeline(table, client, storage).run

    first = run(job_id)
    assert first.state is JobState.generated
    assert first.retry_in is not None
    second = run(job_id)

    assert second.state is JobState.succeeded
    assert client.calls == 1
    assert list(storage.objects) == ["b/k.jpg"]


def test_a_transient_provider_error_requeues_with_a_delay(table: ResultsTable) -> None:
    job_id = one_job(table)
    client = FakeClient(ServerError("503", retry_after=7))

    outcome = pipeline(table, client, FlakyStorage()).run(job_id)

    assert outcome.state is JobState.queued
    assert outcome.retry_in == 7
    assert table.job_rows("b")[0]["error_class"] == "server_error"


def test_a_final_error_fails_the_job_at_once(table: ResultsTable) -> None:
    job_id = one_job(table)

    outcome = pipeline(table, FakeClient(ContentPolicy("flagged")), FlakyStorage()).run(job_id)

    assert outcome.state is JobState.failed
    assert outcome.retry_in is None


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


def test_an_inline_image_whose_upload_failed_is_stored_later_without_calling_again(
    table: ResultsTable,
) -> None:
    job_id, storage = one_job(table), FlakyStorage(failures=1)
    client = FakeClient(answer=from_bytes(JPEG))
    run = pipeline(table, client, storage).run

    assert run(job_id).state is JobState.generated
    assert run(job_id).state is JobState.succeeded

    assert client.calls == 1
    assert storage.objects["b/k.jpg"][0] == JPEG


def test_an_auth_error_pauses_the_batch_and_leaves_the_job_waiting(table: ResultsTable) -> None:
    job_id = one_job(table)

    outcome = pipeline(table, FakeClient(AuthError("401: bad token")), FlakyStorage()).run(job_id)

    assert outcome.state is JobState.queued
    assert outcome.retry_in is None
    batch = table.get_batch("b")
    assert batch is not None
    assert batch.paused_reason == "auth: 401: bad token; fix it, then `seedream-batch resume b`"


def test_an_unexpected_error_is_recorded_as_internal_and_retried(table: ResultsTable) -> None:
    job_id = one_job(table)
    client = FakeClient(redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379."))

    outcome = pipeline(table, client, FlakyStorage()).run(job_id)

    assert outcome.state is JobState.queued
    [row] = table.job_rows("b")
    assert row["error_class"] == "internal"
    assert row["error_message"] == "ConnectionError: Error 111 connecting to 127.0.0.1:6379."
    assert row["lease_owner"] is None


def run_until_settled(table: ResultsTable, run: Callable[[int], Outcome], job_id: int) -> None:
    """Deliver the job's message, then each message the table makes due again, as the reaper
    would, until the job wants no more."""
    due = [job_id]
    while due:
        for each in due:
            run(each)
        due = dispatched(table)


@pytest.mark.parametrize(
    "bug",
    [TypeError("unsupported operand type(s) for +: 'int' and 'str'"), KeyError("width")],
    ids=["TypeError", "KeyError"],
)
def test_a_program_error_fails_the_job_after_one_paid_attempt_with_its_traceback_logged(
    table: ResultsTable, caplog: pytest.LogCaptureFixture, bug: Exception
) -> None:
    job_id, client = one_job(table), FakeClient(*[bug] * 3)
    run = pipeline(table, client, FlakyStorage()).run

    with caplog.at_level(logging.ERROR, logger=pipeline_module.__name__):
        run_until_settled(table, run, job_id)

    assert client.calls == 1  # one attempt paid for, not max_attempts
    [row] = table.job_rows("b")
    assert (row["state"], row["error_class"], row["attempts"]) == ("failed", "internal", 1)
    assert row["error_message"].startswith(f"program error (not retried): {type(bug).__name__}")
    [logged] = [r for r in caplog.records if r.exc_info is not None]
    assert logged.exc_info is not None
    assert logged.exc_info[1] is bug


def test_a_lost_connection_is_retried_up_to_the_attempt_limit(table: ResultsTable) -> None:
    job_id = one_job(table)
    client = FakeClient(*[ConnectionResetError(104, "Connection reset by peer")] * 3)
    run = pipeline(table, client, FlakyStorage()).run

    run_until_settled(table, run, job_id)

    assert client.calls == 3  # max_attempts
    [row] = table.job_rows("b")
    assert (row["state"], row["error_class"], row["attempts"]) == ("failed", "internal", 3)


def test_a_program_error_after_the_image_was_paid_for_never_pays_for_it_again(
    table: ResultsTable,
) -> None:
    job_id, client = one_job(table), FakeClient()
    broken = BrokenStorage()

    assert pipeline(table, client, broken).run(job_id).state is JobState.failed
    assert table.retry("b") == 1
    storage = FlakyStorage()
    assert pipeline(table, client, storage).run(job_id).state is JobState.succeeded

    assert client.calls == 1
    assert list(storage.objects) == ["b/k.jpg"]


class BrokenStorage(FlakyStorage):
    """Storage with a bug in it: it reads metadata nobody gives it."""

    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        return metadata["no-such-entry"]


class SlowClient(FakeClient):
    """Takes `seconds` to answer, while the test looks for expired leases."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def generate(
        self, model: ModelAdapter, spec: ModelInput, *, metadata: CallMetadata
    ) -> Generation:
        time.sleep(self.seconds)
        return super().generate(model, spec, metadata=metadata)


def test_a_job_outliving_its_lease_keeps_it_while_the_worker_lives(table: ResultsTable) -> None:
    job_id, storage = one_job(table), FlakyStorage()
    downloads = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=JPEG))
    )
    settings = Settings(_env_file=None, lease_seconds=0.3)
    worker = JobPipeline(settings, table, SlowClient(1.2), downloads, lambda _output: storage)
    found_expired: list[list[JobState]] = []

    def reaper() -> None:
        for _ in range(10):
            time.sleep(0.1)
            found_expired.append(table.recover_expired_leases(max_attempts=5))

    watcher = threading.Thread(target=reaper)
    watcher.start()
    outcome = worker.run(job_id)
    watcher.join()
    worker.leases.stop()

    assert outcome.state is JobState.succeeded
    assert found_expired == [[]] * 10


@pytest.mark.parametrize(
    ("download", "says"),
    [
        (b"<html><body>AccessDenied</body></html>", "not a JPEG, PNG or WebP image: starts with"),
        (JPEG[: len(JPEG) // 2], "jpeg image is damaged or truncated"),
    ],
    ids=["html page", "truncated jpeg"],
)
def test_a_download_that_is_not_a_whole_image_fails_as_bad_image_and_stores_nothing(
    table: ResultsTable, download: bytes, says: str
) -> None:
    job_id, client, storage = one_job(table), FakeClient(), FlakyStorage()

    outcome = pipeline(table, client, storage, download).run(job_id)

    assert outcome.state is JobState.failed
    assert outcome.retry_in is None
    [row] = table.job_rows("b")
    assert row["error_class"] == "bad_image"
    assert says in row["error_message"]
    assert row["output_uri"] is None
    assert row["sha256"] is None
    assert storage.objects == {}
    assert client.calls == 1


def test_a_download_over_the_size_cap_fails_as_bad_image_and_stores_nothing(
    table: ResultsTable,
) -> None:
    job_id, storage = one_job(table), FlakyStorage()
    too_big = JPEG + b"\0" * 2048
    run = pipeline(table, FakeClient(), storage, too_big, max_image_bytes=len(JPEG)).run

    assert run(job_id).state is JobState.failed
    [row] = table.job_rows("b")
    assert row["error_class"] == "bad_image"
    assert row["error_message"].startswith(f"image is over {len(JPEG)} bytes")
    assert storage.objects == {}


def inline_image_of(table: ResultsTable, job_id: int) -> bytes | None:
    with table.engine.connect() as conn:
        image: bytes | None = conn.execute(
            select(jobs_table.c.inline_image).where(jobs_table.c.id == job_id)
        ).scalar_one()
    return image


def test_an_inline_image_over_the_cap_fails_as_bad_image_and_is_not_kept(
    table: ResultsTable,
) -> None:
    cap = 100_000
    body = image_bytes("PNG", (8, 8)) + b"\0" * (5 * cap)
    raw_png = answer("200 OK", {"Content-Type": "image/png"}, body)
    job_id, storage = one_job(table), FlakyStorage()
    with RawHttpServer(sends(raw_png)) as api:
        settings = Settings(
            _env_file=None,
            api_base=api.url,
            account_id="acct",
            api_token="tok",
            max_image_bytes=cap,
        )
        with CloudflareClient(settings) as client:
            worker = JobPipeline(settings, table, client, httpx.Client(), lambda _: storage)
            outcome = worker.run(job_id)

    assert outcome.state is JobState.failed
    [row] = table.job_rows("b")
    assert row["error_class"] == "bad_image"
    assert "is over" in row["error_message"]
    assert inline_image_of(table, job_id) is None
    assert storage.objects == {}


def test_an_inline_answer_that_is_not_an_image_fails_and_is_not_kept(table: ResultsTable) -> None:
    job_id, storage = one_job(table), FlakyStorage()
    client = FakeClient(answer=from_bytes(b"<html>an error page</html>"))

    outcome = pipeline(table, client, storage).run(job_id)

    assert outcome.state is JobState.failed
    assert table.job_rows("b")[0]["error_class"] == "bad_image"
    assert inline_image_of(table, job_id) is None


def test_an_image_url_on_the_metadata_endpoint_fails_as_bad_image_naming_host_and_class(
    table: ResultsTable,
) -> None:
    network = LoopbackOnlyNetwork()
    settings = Settings(_env_file=None, api_base="https://api.cloudflare.com")
    policy = AddressPolicy.for_api_base(settings.api_base, lambda *_: ["104.16.0.1"],
                                        allow_all=False)  # fmt: skip
    downloads = guarded_client(4, policy, lambda *_: ["169.254.169.254"], network)
    client = FakeClient(answer=from_url("http://provider.example/a.jpeg?X-Amz-Signature=s3"))
    worker = JobPipeline(settings, table, client, downloads, lambda _: FlakyStorage())

    outcome = worker.run(one_job(table))

    assert outcome.state is JobState.failed
    [row] = table.job_rows("b")
    assert row["error_class"] == "bad_image"
    assert (
        "provider.example resolves to 169.254.169.254, a link-local address"
        in (row["error_message"])
    )
    assert "X-Amz-Signature" not in row["error_message"]
    assert network.connected == []
