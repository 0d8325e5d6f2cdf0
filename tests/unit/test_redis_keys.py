"""The Redis keys: one module names them, every one under the product's prefix, per account."""

from jobs import redis_keys


def _keys_of(account: str) -> set[str]:
    """Every key the product writes for one account (and one model, two gateways)."""
    namespace = redis_keys.limiter_namespace(account, "bytedance/seedream-4.0")
    return {
        redis_keys.limiter_gateway(namespace, None),
        redis_keys.limiter_gateway(namespace, "gw-1"),
        redis_keys.limiter_in_flight(namespace),
        redis_keys.limiter_in_flight_released(namespace),
        redis_keys.reaper_turn(account),
        redis_keys.dispatcher_turn(account),
        redis_keys.dispatcher_wake(account),
        redis_keys.fleet_threads(account),
    }


def test_the_keys_of_two_accounts_never_collide() -> None:
    first, second = _keys_of("account-a"), _keys_of("account-b")

    assert len(first) == len(second) == 8
    assert not first & second


def test_every_key_starts_with_the_product_prefix() -> None:
    keys = _keys_of("account-a") | {redis_keys.JOB_QUEUE}

    assert all(key.split(":")[0] == redis_keys.PREFIX for key in keys)


def test_a_call_without_a_gateway_is_limited_under_the_default_gateway() -> None:
    namespace = redis_keys.limiter_namespace("a", "m")

    assert redis_keys.limiter_gateway(namespace, None) == "seedream:limit:a:m:gateway:default"
