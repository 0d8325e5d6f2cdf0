"""Fixtures: real Redis, PostgreSQL, an S3 server and the Cloudflare emulator, fresh per session.

Nothing here assumes an earlier run: each service is started on a free loopback port (or, for
PostgreSQL, a new database is created) and removed afterwards.
"""

import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import redis

from jobs import redaction
from jobs.models import MODELS, ModelAdapter
from tests.support.models import SEVERAL_IMAGES
from tests.support.processes import clean_env
from tests.support.services import (
    POSTGRES_ADMIN_URL,
    Emulator,
    S3Bucket,
    running_emulator,
    running_redis,
    running_s3,
    temporary_postgres_database,
)

S3_KEY_ID, S3_SECRET = "testing-key", "s3-secret-" + secrets.token_hex(8)


@pytest.fixture(autouse=True)
def _secrets_of_this_test_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no secret registered for redaction: the registry is process-wide
    and only grows, so a short token one test set ("tok") would mask that text in the next."""
    monkeypatch.setattr(redaction, "_secrets", ())


@pytest.fixture
def child_env() -> dict[str, str]:
    """The environment a test's child process starts from: this one's, with no seedream or
    Cloudflare setting (the test adds the ones it means)."""
    return clean_env()


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def redis_url(logs: Path) -> Iterator[str]:
    with running_redis(logs) as url:
        yield url


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    redis.Redis.from_url(redis_url).flushall()
    return redis_url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    with temporary_postgres_database(POSTGRES_ADMIN_URL) as url:
        yield url


@pytest.fixture(scope="session")
def s3_endpoint(logs: Path) -> Iterator[str]:
    with running_s3(logs) as url:
        yield url


@pytest.fixture
def s3_env(s3_endpoint: str) -> dict[str, str]:
    """Environment a worker needs to reach the local S3 server (as boto3 reads it)."""
    return {
        "AWS_ENDPOINT_URL": s3_endpoint,
        "AWS_ACCESS_KEY_ID": S3_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": S3_SECRET,
        "AWS_DEFAULT_REGION": "us-east-1",
    }


@pytest.fixture
def s3_in_env(s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """`s3_env` set in this process's environment, for code that makes its own boto3 client (as
    the product does) in the test process."""
    for name, value in s3_env.items():
        monkeypatch.setenv(name, value)
    return s3_env


@pytest.fixture
def s3_bucket(s3_env: dict[str, str]) -> S3Bucket:
    """A new, empty bucket and a client on it."""
    client = boto3.client(
        "s3",
        endpoint_url=s3_env["AWS_ENDPOINT_URL"],
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    name = f"images-{secrets.token_hex(4)}"
    client.create_bucket(Bucket=name)
    return name, client


@pytest.fixture(scope="session")
def emulator_server(logs: Path) -> Iterator[Emulator]:
    with running_emulator(logs) as emulator:
        yield emulator


@pytest.fixture
def emulator(emulator_server: Emulator) -> Emulator:
    """The session's emulator with counters zeroed and no latency, faults or limit; every
    gateway exists, and its token may read them."""
    emulator_server.configure(
        latency_s=0.0,
        jitter_s=0.0,
        rate_limit=None,
        faults={},
        response_form="url",
        gateways=None,
        gateway_read=True,
    )
    emulator_server.reset()
    return emulator_server


@pytest.fixture
def several_images_model(monkeypatch: pytest.MonkeyPatch) -> ModelAdapter:
    """A model answering with several images (tests.support.models), known by name to
    `jobs.models.model_named` for the test's duration."""
    monkeypatch.setitem(MODELS, SEVERAL_IMAGES.name, SEVERAL_IMAGES)
    return SEVERAL_IMAGES
