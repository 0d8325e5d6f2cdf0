"""The real services, each as a context manager: the test fixtures and bench/ both use them."""

import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
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

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client  # stubs only: nothing at run time needs them

#: the server the tests and benchmarks create their databases in (trust auth on the machines
#: this runs on)
POSTGRES_ADMIN_URL = os.environ.get(
    "SEEDREAM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
#: the `s3_bucket` fixture: a new bucket's name and a client on the S3 server holding it
S3Bucket = tuple[str, "S3Client"]


class RedisServer:
    """A private redis-server on a free port. `persistent` keeps its data in an append-only file,
    so `restart()` brings it back with what it held, as a production Redis would; `password`
    makes clients authenticate (it is in `url`, as users configure it)."""

    def __init__(
        self, workdir: Path, *, persistent: bool = False, password: str | None = None
    ) -> None:
        self.port = free_port()
        self.workdir = workdir / f"redis-{self.port}"  # its own append-only file
        self.workdir.mkdir(parents=True, exist_ok=True)
        credentials = f":{password}@" if password else ""
        self.url = f"redis://{credentials}127.0.0.1:{self.port}/0"
        self._options = ["--appendonly", "yes", "--appendfsync", "always"] if persistent else [
            "--appendonly", "no"]  # fmt: skip
        if password:
            self._options += ["--requirepass", password]
        self._server = self._start()

    def _start(self) -> Service:
        server = Service(
            [require_binary("redis-server"), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", *self._options, "--dir", str(self.workdir)],
            self.workdir / "redis.log",
        )  # fmt: skip
        wait_until(port_open(self.port), 10, "redis-server listening")
        return server

    def restart(self, down_s: float = 0.0) -> None:
        """Stop the server, stay down `down_s` seconds, and start it again on the same port."""
        self._server.stop()
        time.sleep(down_s)
        self._server = self._start()

    def flushall(self) -> None:
        redis.Redis.from_url(self.url).flushall()

    def stop(self) -> None:
        self._server.stop()


@contextmanager
def running_redis(workdir: Path) -> Iterator[str]:
    """A private redis-server on a free port that keeps nothing on disk; yields its URL."""
    server = RedisServer(workdir)
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def temporary_postgres_database(admin_url: str) -> Iterator[str]:
    """A new, empty database on the server of `admin_url`, dropped afterwards; yields its URL."""
    name = f"seedream_test_{secrets.token_hex(4)}"
    admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@contextmanager
def running_s3(workdir: Path) -> Iterator[str]:
    """moto's S3 server on a free port; yields its endpoint URL."""
    port = free_port()
    server = Service(
        [str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], workdir / "s3.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(http_ok(url), 30, "moto S3 server answering")
        yield url
    finally:
        server.stop()


class Emulator:
    """The running emulator: its base URL, its credentials and its control endpoints."""

    def __init__(self, base_url: str, account_id: str, api_token: str) -> None:
        self.base_url = base_url
        self.account_id = account_id
        self.api_token = api_token

    def stats(self) -> dict[str, Any]:
        return dict(httpx.get(f"{self.base_url}/__emulator/stats", timeout=10).json())

    def calls(self) -> list[dict[str, Any]]:
        """The emulator's record of its recent calls, oldest first (model, gateway, metadata,
        log id, status, images)."""
        return list(httpx.get(f"{self.base_url}/__emulator/calls", timeout=10).json())

    def configure(self, **config: object) -> None:
        httpx.post(f"{self.base_url}/__emulator/config", json=config, timeout=10).raise_for_status()

    def reset(self) -> None:
        httpx.post(f"{self.base_url}/__emulator/reset", timeout=10).raise_for_status()

    def inject(self, kind: str, count: int = 1) -> None:
        """The next `count` calls answer with the fault `kind`."""
        httpx.post(
            f"{self.base_url}/__emulator/inject", json={"kind": kind, "count": count}, timeout=10
        ).raise_for_status()

    def env(self) -> dict[str, str]:
        """The settings a client needs to talk to this emulator as if it were Cloudflare.

        The rate limit is the one the emulator enforces (none unless a test sets one), as a user
        would set the real provider's: pacing the tests at Cloudflare's 200/60s would only slow
        them. Tests of the limiter set it themselves.
        """
        return {
            "CLOUDFLARE_API_BASE": self.base_url,
            "CLOUDFLARE_ACCOUNT_ID": self.account_id,
            "CLOUDFLARE_API_TOKEN": self.api_token,
            "SEEDREAM_RATE_LIMIT": str(self.current_config().get("rate_limit") or "none"),
        }

    def current_config(self) -> dict[str, Any]:
        """The configuration the emulator runs with (without its token)."""
        response = httpx.get(f"{self.base_url}/__emulator/config", timeout=10)
        response.raise_for_status()
        config: dict[str, Any] = response.json()
        return config


@contextmanager
def running_emulator(workdir: Path) -> Iterator[Emulator]:
    """The Cloudflare emulator on a free port, with credentials made for this run."""
    port = free_port()
    account, token = "acct-test", "tok-" + secrets.token_hex(8)
    server = Service(
        [str(VENV_BIN / "python"), "-m", "emulator", "--port", str(port),
         "--account-id", account, "--api-token", token],
        workdir / "emulator.log",
    )  # fmt: skip
    emulator = Emulator(f"http://127.0.0.1:{port}", account, token)
    try:
        wait_until(http_ok(f"{emulator.base_url}/__emulator/stats"), 30, "emulator answering")
        yield emulator
    finally:
        server.stop()
