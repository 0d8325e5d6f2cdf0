"""The parts of a JobPipeline the pipeline tests fake: the client (counting what it is paid) and
the storage (failing on demand), and a pipeline put together from them over a real table."""

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from config.settings import Settings
from jobs.errors import StorageError
from jobs.models import ModelAdapter, ModelInput
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.results import ResultsTable
from jobs.spec import JobSpec
from tests.support.generations import from_url
from tests.support.images import image_bytes
from worker.cloudflare import CallMetadata, Generation
from worker.pipeline import JobPipeline
from worker.spool import ImageFile
from worker.storage import Storage, StoredObject

PROVIDER_URL = "https://provider.example/seedream/abc_0.jpeg"


class FakeClient:
    """Answers with a URL (or `answer`), or raises the errors it is given, and counts the calls
    (the bill)."""

    def __init__(self, *errors: Exception, answer: Generation | None = None) -> None:
        self.errors = list(errors)
        self.answer = answer or from_url(PROVIDER_URL)
        self.calls = 0
        self.metadata: list[dict[str, object]] = []

    def generate(
        self, model: ModelAdapter, spec: ModelInput, *, metadata: CallMetadata
    ) -> Generation:
        self.calls += 1
        self.metadata.append(dict(metadata))
        if self.errors:
            raise self.errors.pop(0)
        return self.answer


class FlakyStorage(Storage):
    """Fails the first `failures` puts, then keeps what it is given, in memory. The pipeline
    puts, and reads what it copies for a reused job; listing and deleting are not faked."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.objects: dict[str, tuple[bytes, str, dict[str, str]]] = {}

    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        if self.failures:
            self.failures -= 1
            raise StorageError("bucket unreachable")
        body.seek(0)
        self.objects[key] = (body.read(), content_type, metadata)
        return self.uri(key)

    def uri(self, key: str) -> str:
        return f"mem://{key}"

    @contextmanager
    def open(self, key: str) -> Iterator[StoredObject | None]:
        found = self.objects.get(key)
        yield None if found is None else StoredObject(io.BytesIO(found[0]), len(found[0]))

    def list(self, prefix: str = "") -> Iterator[str]:
        raise NotImplementedError("the pipeline never lists a storage")

    def delete(self, key: str) -> None:
        raise NotImplementedError("the pipeline never deletes a stored object")


def one_job(table: ResultsTable) -> int:
    [job_id] = table.add_jobs(
        "b", [JobSpec(key="k", line=1, input=Seedream40Input(prompt="a fox"))]
    )
    return job_id


JPEG = image_bytes("JPEG", (64, 48))


def pipeline(
    table: ResultsTable,
    client: FakeClient,
    storage: FlakyStorage,
    download: bytes = JPEG,
    **settings_changes: Any,
) -> JobPipeline:
    downloads = httpx.Client(
        transport=httpx.MockTransport(lambda _: httpx.Response(200, content=download))
    )
    settings = Settings(_env_file=None, max_attempts=3, retry_base_seconds=0, **settings_changes)
    return JobPipeline(settings, table, client, downloads, lambda _output: storage)
