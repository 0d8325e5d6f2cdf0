"""What only the Redis backend of the limiter has: a slot's holder may die with its process, so
slots are leases; and a fleet paces by Redis' own clock.

What both backends promise is held to one suite in tests/unit/test_limiter_backends.py.
"""

from collections.abc import Iterator

import pytest
import redis

from jobs.rates import RateLimit
from tests.support.fake_clock import FakeClock
from worker.limiter.pacing import Pacing
from worker.limiter.redis_backend import RedisBackend

LEASE_S = 30.0


def single_gateway_redis_backend(client: redis.Redis, clock: FakeClock | None) -> RedisBackend:
    return RedisBackend(
        client,
        namespace="test:limit",
        gateways=(None,),
        pacing=Pacing.for_limit(RateLimit.parse("10/1s")),
        max_in_flight=2,
        lease_s=LEASE_S,
        clock=clock,
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def redis_backend(fresh_redis: str, clock: FakeClock) -> Iterator[RedisBackend]:
    client = redis.Redis.from_url(fresh_redis)
    yield single_gateway_redis_backend(client, clock)
    client.close()


def test_a_dead_holders_slot_comes_back_after_its_lease_and_a_renewed_one_is_kept(
    redis_backend: RedisBackend, clock: FakeClock
) -> None:
    assert redis_backend.take_slot("alive")
    assert redis_backend.take_slot("dead")
    clock.advance(LEASE_S * 2 / 3)
    redis_backend.renew_slots(["alive"])  # the live process renews; the dead one cannot
    assert not redis_backend.take_slot("new")  # both leases still run

    clock.advance(LEASE_S / 2)  # past the dead holder's lease, within the renewed one
    assert redis_backend.take_slot("new")
    assert not redis_backend.take_slot("another")


def test_renewing_a_released_slot_does_not_take_it_again(redis_backend: RedisBackend) -> None:
    assert redis_backend.take_slot("a")
    assert redis_backend.take_slot("b")
    redis_backend.release_slot("a")

    redis_backend.renew_slots(["a", "b"])

    assert redis_backend.take_slot("c")
    assert not redis_backend.take_slot("d")


def test_without_a_clock_the_scripts_go_by_redis_own(fresh_redis: str) -> None:
    client = redis.Redis.from_url(fresh_redis)
    backend = single_gateway_redis_backend(client, clock=None)

    seconds, micros = client.time()
    booked = backend.reserve()
    client.close()

    assert 0 <= booked.send_at_us - (seconds * 1_000_000 + micros) < 1_000_000
    assert booked.wait_s == 0


def test_a_success_noted_while_redis_is_gone_is_skipped_not_raised() -> None:
    """It comes after an image was paid for: raising would lose that image."""
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    backend = RedisBackend(
        client,
        namespace="test:gone",
        gateways=(None,),
        pacing=Pacing.for_limit(RateLimit.parse("10/1s")),
        max_in_flight=None,
        lease_s=30.0,
    )
    try:
        backend.note_success(None)
    finally:
        client.close()
