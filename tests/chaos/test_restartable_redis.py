"""The chaos suite's Redis: a restart keeps what it held (append-only file), a flush loses it."""

from pathlib import Path

import pytest
import redis

from tests.support.services import RedisServer

pytestmark = pytest.mark.chaos


def test_a_persistent_server_restarts_on_its_port_with_its_data(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, persistent=True)
    try:
        before = redis.Redis.from_url(server.url)
        before.rpush("queue", "m1", "m2")
        before.close()

        server.restart(down_s=0.5)

        after = redis.Redis.from_url(server.url)
        assert after.lrange("queue", 0, -1) == [b"m1", b"m2"]
        server.flushall()
        assert after.dbsize() == 0
        after.close()
    finally:
        server.stop()


def test_a_server_that_is_not_persistent_comes_back_empty(tmp_path: Path) -> None:
    server = RedisServer(tmp_path)
    try:
        redis.Redis.from_url(server.url).set("k", "v")
        server.restart()
        assert redis.Redis.from_url(server.url).dbsize() == 0
    finally:
        server.stop()


def test_while_it_is_down_clients_are_refused(tmp_path: Path) -> None:
    server = RedisServer(tmp_path, persistent=True)
    client = redis.Redis.from_url(server.url, retry_on_error=[])
    server.stop()
    with pytest.raises(redis.ConnectionError):
        client.ping()
