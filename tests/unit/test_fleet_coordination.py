"""What the dispatcher shares through real Redis: one holder of the turn at a time, taken over
when the holder stops renewing it; the fleet's live threads; a wake-up that cuts a wait short."""

import time

import redis

from worker.fleet_coordination import (
    RedisFleetThreads,
    RedisHeldTurn,
    RedisWakeup,
    wake_fleet,
)

TURN = "seedream:dispatcher:acct:turn"


def test_one_process_holds_the_turn_and_keeps_it_while_it_renews(fresh_redis: str) -> None:
    client = redis.Redis.from_url(fresh_redis)
    first = RedisHeldTurn(client, TURN, "host:1", ttl_s=0.5)
    second = RedisHeldTurn(client, TURN, "host:2", ttl_s=0.5)

    assert first.hold()
    for _ in range(4):  # renewed past its time to live
        time.sleep(0.2)
        assert not second.hold()
        assert first.hold()
    assert client.get(TURN) == b"host:1"


def test_the_turn_of_a_holder_that_died_is_taken_over_after_its_time_to_live(
    fresh_redis: str,
) -> None:
    client = redis.Redis.from_url(fresh_redis)
    dead = RedisHeldTurn(client, TURN, "host:1", ttl_s=0.3)
    alive = RedisHeldTurn(client, TURN, "host:2", ttl_s=0.3)
    assert dead.hold()
    assert not alive.hold()

    time.sleep(0.4)  # the holder stopped renewing

    assert alive.hold()
    assert not dead.hold()  # a holder that comes back finds the turn taken
    assert client.get(TURN) == b"host:2"


def test_the_fleet_s_threads_are_those_of_its_live_processes(fresh_redis: str) -> None:
    client = redis.Redis.from_url(fresh_redis)
    key = "seedream:fleet:acct:threads"
    lasting = RedisFleetThreads(client, key, "host:1", threads=16, ttl_s=5)
    brief = RedisFleetThreads(client, key, "host:2", threads=100, ttl_s=0.2)
    lasting.announce()
    brief.announce()
    assert lasting.total() == 116

    time.sleep(0.3)  # host:2 was killed and stopped announcing

    assert lasting.total() == 16


def test_a_wake_up_ends_the_dispatcher_s_wait_and_piles_up_no_entries(fresh_redis: str) -> None:
    client = redis.Redis.from_url(fresh_redis)
    key = "seedream:dispatcher:acct:wake"
    for _ in range(5):
        wake_fleet(client, key)
    assert client.llen(key) == 1

    started = time.monotonic()
    RedisWakeup(client, key).wait(5)

    assert time.monotonic() - started < 1
    assert client.llen(key) == 0


def test_a_redis_that_does_not_answer_costs_a_wake_up_nothing_but_time() -> None:
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)

    wake_fleet(unreachable, "seedream:dispatcher:acct:wake")  # logged, not raised
