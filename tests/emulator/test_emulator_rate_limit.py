"""The per-gateway sliding window: over the limit is 429 / 3040 with Retry-After, and not billed."""

import time

import pytest

from emulator.ratelimit import SlidingWindowLimiter
from jobs.rates import RateLimit
from tests.emulator.conftest import CallModel, Configure, Stats


def test_a_call_over_the_rate_limit_gets_429_with_retry_after(
    call_model: CallModel, configure: Configure, stats: Stats
) -> None:
    configure(rate_limit="5/2s")
    assert [call_model({"prompt": "a cat", "size": "1K"}).status_code for _ in range(5)] == [
        200
    ] * 5
    refused = call_model({"prompt": "a cat", "size": "1K"})
    assert refused.status_code == 429
    assert refused.json()["errors"] == [
        {"code": 3040, "message": "Capacity temporarily exceeded, please try again."}
    ]
    assert 1 <= int(refused.headers["retry-after"]) <= 2
    counted = stats()
    assert counted["billed"] == 5
    assert counted["rate_limited"] == 1
    assert counted["by_status"] == {"200": 5, "429": 1}
    assert counted["gateways"]["default"] == {
        "accepted": 5,
        "max_calls_in_any_window": 5,
        "max_offered_in_any_window": 6,
    }
    assert counted["max_calls_in_any_window"] <= 5


def test_a_slot_frees_once_the_oldest_call_leaves_the_window(
    call_model: CallModel, configure: Configure
) -> None:
    configure(rate_limit="2/0.5s")
    assert [call_model({"prompt": "a cat", "size": "1K"}).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]
    time.sleep(0.55)
    assert call_model({"prompt": "a cat", "size": "1K"}).status_code == 200


def test_each_gateway_has_its_own_limit(
    call_model: CallModel, configure: Configure, stats: Stats
) -> None:
    configure(rate_limit="2/10s")
    for gateway in ("g1", "g2", None):
        codes = [
            call_model({"prompt": "a cat", "size": "1K"}, gateway=gateway).status_code
            for _ in range(3)
        ]
        assert codes == [200, 200, 429]
    assert set(stats()["gateways"]) == {"g1", "g2", "default"}


def test_calls_refused_before_the_limit_do_not_use_it_up(
    call_model: CallModel, configure: Configure
) -> None:
    configure(rate_limit="2/10s")
    assert call_model({"prompt": "a cat"}, token="wrong").status_code == 401
    assert [call_model({"prompt": "a cat", "size": "1K"}).status_code for _ in range(3)] == [
        200,
        200,
        429,
    ]


def test_the_limiter_measures_the_busiest_window_without_a_limit() -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(None, clock=lambda: now[0])
    for at in (0.0, 10.0, 20.0, 59.0, 61.0, 65.0):
        now[0] = at
        assert limiter.admit("default") is None
    assert limiter.snapshot() == {
        "default": {"accepted": 6, "max_calls_in_any_window": 5, "max_offered_in_any_window": 5}
    }


@pytest.mark.parametrize(("at", "wait"), [(0.5, 60), (30.0, 30), (59.5, 1)])
def test_retry_after_is_the_whole_seconds_until_the_oldest_call_leaves_the_window(
    at: float, wait: int
) -> None:
    now = [0.0]
    limiter = SlidingWindowLimiter(RateLimit.parse("1/60s"), clock=lambda: now[0])
    assert limiter.admit("g") is None
    now[0] = at
    assert limiter.admit("g") == wait
    now[0] = 60.0
    assert limiter.admit("g") is None


@pytest.mark.parametrize(
    ("text", "limit"), [("600/60s", (600, 60.0)), ("5/2", (5, 2.0)), ("3/0.5s", (3, 0.5))]
)
def test_a_rate_limit_is_written_count_slash_seconds(text: str, limit: tuple[int, float]) -> None:
    parsed = RateLimit.parse(text)
    assert parsed is not None
    assert (parsed.count, parsed.window_s) == limit
    assert RateLimit.parse("none") is None
    with pytest.raises(ValueError, match="COUNT/SECONDS"):
        RateLimit.parse("fast")
