"""Fixtures: real Redis, PostgreSQL, an S3 server and the Cloudflare emulator, fresh per session.

Nothing here assumes an earlier run: each service is started on a free loopback port (or, for
PostgreSQL, a new database is created) and removed afterwards.
"""

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
import redis
import sqlalchemy

from tests.support.processes import (
    VENV_BIN,
    Service,
    free_port,
    http_ok,
    port_open,
    require_binary,
    wait_until,
)

#: the server the tests create their database in (trust auth on the machines this runs on)
POSTGRES_ADMIN_URL = os.environ.get(
    "SEEDREAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
EMULATOR_ACCOUNT = "acct-test"
EMULATOR_TOKEN = "tok-" + secrets.token_hex(8)
S3_KEY_ID, S3_SECRET = "testing-key", "s3-secret-" + secrets.token_hex(8)


@pytest.fixture(scope="session")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("logs")


@pytest.fixture(scope="session")
def redis_url(logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    server = Service(
        [
            require_binary("redis-server"),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path_factory.mktemp("redis")),
        ],
        logs / "redis.log",
    )
    wait_until(port_open(port), 10, "redis-server listening")
    yield f"redis://127.0.0.1:{port}/0"
    server.stop()


@pytest.fixture
def fresh_redis(redis_url: str) -> str:
    redis.Redis.from_url(redis_url).flushall()
    return redis_url


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"seedream_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(scope="session")
def s3_endpoint(logs: Path) -> Iterator[str]:
    port = free_port()
    server = Service(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], logs / "s3.log"
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ok(url), 30, "moto S3 server answering")
    yield url
    server.stop()


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
def s3_bucket(s3_env: dict[str, str]) -> tuple[str, object]:
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


class Emulator:
    """The running emulator: its base URL and its control endpoints."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def stats(self) -> dict:
        return httpx.get(f"{self.base_url}/__emulator/stats", timeout=10).json()

    def configure(self, **config: object) -> None:
        httpx.post(f"{self.base_url}/__emulator/config", json=config, timeout=10).raise_for_status()

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/__emulator/reset", timeout=10).raise_for_status()

    def env(self) -> dict[str, str]:
        """The settings a client needs to talk to this emulator as if it were Cloudflare."""
        return {
            "CLOUDFLARE_API_BASE": self.base_url,
            "CLOUDFLARE_ACCOUNT_ID": EMULATOR_ACCOUNT,
            "CLOUDFLARE_API_TOKEN": EMULATOR_TOKEN,
        }


@pytest.fixture(scope="session")
def emulator_server(logs: Path) -> Iterator[Emulator]:
    port = free_port()
    server = Service(
        [
            str(VENV_BIN / "python"),
            "-m",
            "emulator",
            "--port",
            str(port),
            "--account-id",
            EMULATOR_ACCOUNT,
            "--api-token",
            EMULATOR_TOKEN,
        ],
        logs / "emulator.log",
    )
    emulator = Emulator(f"http://127.0.0.1:{port}")
    wait_until(http_ok(f"{emulator.base_url}/__emulator/stats"), 30, "emulator answering")
    yield emulator
    server.stop()


@pytest.fixture
def emulator(emulator_server: Emulator) -> Emulator:
    """The session's emulator with counters zeroed and no latency, faults or limit."""
    emulator_server.configure(
        latency_s=0.0, jitter_s=0.0, rate_limit=None, faults={}, response_form="url"
    )
    emulator_server.reset()
    return emulator_server
