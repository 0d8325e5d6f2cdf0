"""Reaching the fleet's broker: one clear error, said without the password, within seconds."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from celery import Celery

from tests.support.processes import free_port
from worker.broker import BrokerUnreachable, broker_location, check_broker


@pytest.fixture
def silent_broker() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        held: list[socket.socket] = []
        stop = threading.Event()

        def accept() -> None:
            server.settimeout(0.1)
            while not stop.is_set():
                try:
                    held.append(server.accept()[0])
                except TimeoutError:
                    continue

        thread = threading.Thread(target=accept, daemon=True)
        thread.start()
        yield server.getsockname()[1]
        stop.set()
        thread.join()
        for conn in held:
            conn.close()


def test_a_broker_where_nothing_listens_is_named_without_its_password() -> None:
    port = free_port()
    app = Celery(broker=f"redis://:hunter2secret@127.0.0.1:{port}/3")
    started = time.monotonic()

    with pytest.raises(BrokerUnreachable) as caught:
        check_broker(app)

    assert str(caught.value) == (
        f"cannot reach the broker at redis://127.0.0.1:{port}: connection refused"
    )
    assert time.monotonic() - started < 2


def test_a_broker_that_never_answers_is_given_up_after_the_timeout(silent_broker: int) -> None:
    app = Celery(broker=f"redis://127.0.0.1:{silent_broker}/0")
    started = time.monotonic()

    with pytest.raises(BrokerUnreachable) as caught:
        check_broker(app, timeout=0.5)

    assert "no answer within 0.5 s" in str(caught.value)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:pw@redis-host:6380/2", "redis://redis-host:6380"),
        ("rediss://:pw@[::1]:6379/0", "rediss://[::1]:6379"),
        ("redis://redis-host", "redis://redis-host"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ],
)
def test_a_broker_is_shown_by_scheme_host_and_port_only(url: str, shown: str) -> None:
    assert broker_location(url) == shown


def test_the_in_memory_broker_always_answers() -> None:
    check_broker(Celery(broker="memory://"))
