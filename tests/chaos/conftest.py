"""The chaos suite's world: a private Redis that can restart, S3 behind a proxy that can go down,
worker processes that can be killed, all on loopback and fresh for each test."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.chaos.harness import FAST_RECOVERY, ChaosFleet, ChaosRun
from tests.support.services import Emulator, RedisServer
from tests.support.tables import emptied_table
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos


@pytest.fixture
def chaos_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, persistent=True)
    yield server
    server.stop()


@pytest.fixture
def s3_proxy(s3_endpoint: str) -> Iterator[TcpProxy]:
    port = urlsplit(s3_endpoint).port
    assert port is not None
    with TcpProxy(port) as proxy:
        yield proxy


@pytest.fixture
def chaos_fleet(
    tmp_path: Path,
    logs: Path,
    chaos_redis: RedisServer,
    s3_env: dict[str, str],
    s3_proxy: TcpProxy,
    postgres_url: str,
    emulator: Emulator,
    child_env: dict[str, str],
) -> Iterator[ChaosFleet]:
    env = {
        **child_env,
        **s3_env,
        "AWS_ENDPOINT_URL": s3_proxy.url,
        **emulator.env(),
        **FAST_RECOVERY,
        "SEEDREAM_BROKER_URL": chaos_redis.url,
        "SEEDREAM_DATABASE_URL": postgres_url,
    }
    # made anew: another scenario's succeeded jobs would be copied (reuse) instead of paid for
    emptied_table(postgres_url).engine.dispose()
    fleet = ChaosFleet(env, tmp_path, logs)
    yield fleet
    fleet.stop()


@pytest.fixture(scope="session")
def chaos_results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where each scenario appends its line of counts (printed too)."""
    return tmp_path_factory.mktemp("chaos") / "results.txt"


@pytest.fixture
def chaos(
    chaos_fleet: ChaosFleet,
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    postgres_url: str,
    chaos_results: Path,
) -> ChaosRun:
    bucket, s3 = s3_bucket
    return ChaosRun(chaos_fleet, s3, bucket, emulator, postgres_url, chaos_results)
