"""Every S3 client of the product comes from one factory (worker.storage.s3.s3_client), so each
carries its retry policy and pool size: export and scheduled runs used to build bare clients that
gave up at the first throttled request."""

import ast
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3.session
import pytest
from mypy_boto3_s3 import S3Client

from jobs.database import open_engine
from jobs.results import ResultsTable
from producer.exports.formats import ExportFormat
from producer.exports.reading import BatchRows
from producer.exports.run import ExportError, run_export
from producer.scheduled_run import local_manifest
from tests.support.services import S3Bucket
from tests.support.tables import MODEL, specs, stored
from worker.storage.s3 import BOTO_RETRIES

ROOT = Path(__file__).resolve().parents[2]
#: the packages that ship
PRODUCT = ["config", "jobs", "worker", "producer", "emulator"]
#: the one module that may speak boto3
S3_BACKEND = "worker/storage/s3.py"


def test_only_the_s3_backend_imports_boto3() -> None:
    importers = {
        path.relative_to(ROOT).as_posix()
        for package in PRODUCT
        for path in (ROOT / package).rglob("*.py")
        if imports_boto(path)
    }
    assert importers == {S3_BACKEND}


def imports_boto(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            continue
        if any(module.split(".")[0] in ("boto3", "botocore") for module in modules):
            return True
    return False


@pytest.fixture
def client_retries(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The retry configuration of every boto3 client built in this test (None: boto3's own)."""
    built: list[Any] = []
    build: Callable[..., Any] = boto3.session.Session.client  # forwards any service name

    def recorded(session: boto3.session.Session, service: str, *args: Any, **kwargs: Any) -> Any:
        config = kwargs.get("config")
        built.append(config.retries if config is not None else None)
        return build(session, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", recorded)
    return built


@pytest.fixture
def bucket(s3_bucket: S3Bucket, s3_in_env: dict[str, str]) -> S3Bucket:
    """A new bucket, with boto3's environment pointing at the local S3 server."""
    return s3_bucket


def batch_stored_in_s3(tmp_path: Path, bucket: str, client: S3Client) -> BatchRows:
    """A batch of one succeeded job whose image is in the bucket."""
    table = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'results.db'}"))
    table.create_schema()
    table.create_batch("b", "jobs.jsonl", f"s3://{bucket}/images", MODEL)
    (job_id,) = table.add_jobs("b", specs("k"))
    client.put_object(Bucket=bucket, Key="images/b/k.jpg", Body=b"\xff\xd8\xff\xd9")
    claim = table.claim(job_id, "w", 60)
    assert claim is not None
    table.record_succeeded(claim, "w", stored(f"s3://{bucket}/images/b/k.jpg"))
    return BatchRows(table.engine, "b")


@pytest.mark.parametrize("format", list(ExportFormat))
def test_an_export_builds_one_client_with_the_retry_policy(
    format: ExportFormat,
    tmp_path: Path,
    bucket: S3Bucket,
    client_retries: list[Any],
) -> None:
    name, client = bucket
    rows = batch_stored_in_s3(tmp_path, name, client)
    client_retries.clear()  # the test's own client is not the product's

    result = run_export(rows, format, f"s3://{name}/exports/{format.value}", 10)

    assert result.rows == 1
    assert client_retries == [BOTO_RETRIES]


def test_a_client_boto3_cannot_make_is_a_one_line_export_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "no-such-profile")
    table = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'results.db'}"))
    table.create_schema()
    table.create_batch("b", "jobs.jsonl", "out", MODEL)

    with pytest.raises(ExportError, match=r"S3 unreachable for its client: .*no-such-profile"):
        run_export(BatchRows(table.engine, "b"), ExportFormat.jsonl, "s3://bucket/exports", 10)


def test_a_scheduled_manifest_is_downloaded_through_a_client_with_the_retry_policy(
    bucket: S3Bucket, client_retries: list[Any]
) -> None:
    name, client = bucket
    client.put_object(Bucket=name, Key="manifests/jobs.jsonl", Body=b'{"prompt": "a mug"}\n')
    client_retries.clear()

    with local_manifest(f"s3://{name}/manifests/jobs.jsonl") as path:
        assert path.read_bytes() == b'{"prompt": "a mug"}\n'

    assert client_retries == [BOTO_RETRIES]
