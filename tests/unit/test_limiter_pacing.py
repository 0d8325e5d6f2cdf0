"""Pacing and the in-process backend: the schedule, the burst, gateways, cool-downs, recovery.

The in-process backend runs on a fake clock here; the Redis backend runs the same schedule in Lua
and is checked against real Redis and several processes in tests/integration/test_fleet_limiter.py.
"""

import pytest

from jobs.rates import RateLimit
from worker.limiter.local_backend import LocalBackend
from worker.limiter.pacing import (
    DEFAULT_COOL_DOWN_S,
    MIN_RATE_FACTOR,
    RECOVERY_PER_WINDOW,
    Pacing,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backend(
    limit: str = "10/1s", *, burst: int = 1, gateways: tuple[str | None, ...] = (None,)
) -> tuple[LocalBackend, FakeClock, Pacing]:
    clock = FakeClock()
    pacing = Pacing.for_limit(RateLimit.parse(limit), burst)
    return (
        LocalBackend(gateways=gateways, pacing=pacing, max_in_flight=2, clock=clock),
        clock,
        pacing,
    )


@pytest.mark.parametrize(
    ("limit", "burst"), [("200/60s", 1), ("600/60s", 1), ("600/60s", 20), ("10/1s", 3)]
)
def test_no_window_can_hold_more_than_the_limit_burst_included(limit: str, burst: int) -> None:
    rate = RateLimit.parse(limit)
    assert rate is not None
    pacing = Pacing.for_limit(rate, burst)

    # a burst at t=0, then one call per interval: the limit + 1st call lands after the window
    first_over_the_limit_s = (rate.count - burst + 1) * pacing.interval_us / 1e6

    assert first_over_the_limit_s > rate.window_s
    # and the pace still uses at least 98 % of the limit when the burst is 1
    if burst == 1:
        assert rate.window_s / first_over_the_limit_s >= 0.98


def test_calls_are_booked_one_interval_apart_and_told_how_long_to_wait() -> None:
    limiter, _, pacing = backend()

    waits = [limiter.reserve().wait_s for _ in range(4)]

    interval = pacing.interval_us / 1e6
    assert waits == pytest.approx([0, interval, 2 * interval, 3 * interval])


def test_a_burst_goes_at_once_then_the_pace_takes_over() -> None:
    limiter, _, pacing = backend(burst=3)

    waits = [limiter.reserve().wait_s for _ in range(5)]

    interval = pacing.interval_us / 1e6
    assert waits == pytest.approx([0, 0, 0, interval, 2 * interval])


def test_an_idle_spell_does_not_bank_more_than_the_burst() -> None:
    limiter, clock, _ = backend(burst=2)
    limiter.reserve()
    clock.now += 3600

    waits = [limiter.reserve().wait_s for _ in range(3)]

    assert waits[:2] == [0, 0] and waits[2] > 0


def test_each_call_goes_through_the_gateway_free_soonest() -> None:
    limiter, _, pacing = backend(gateways=("g1", "g2", "g3"))

    booked = [limiter.reserve() for _ in range(6)]

    assert sorted(r.gateway for r in booked[:3]) == ["g1", "g2", "g3"]
    assert [r.wait_s for r in booked[:3]] == [0, 0, 0]
    # three gateways, three times the rate: the 4th-6th calls wait one interval, not three
    assert [r.wait_s for r in booked[3:]] == pytest.approx([pacing.interval_us / 1e6] * 3)


def test_a_429_pauses_the_gateway_for_its_retry_after_and_halves_its_rate() -> None:
    limiter, clock, pacing = backend()
    refused = limiter.reserve()

    limiter.cool_down(refused.gateway, refused.send_at_us, 2.0)
    after = [limiter.reserve() for _ in range(2)]

    assert after[0].wait_s == pytest.approx(2.0)
    assert after[1].wait_s - after[0].wait_s == pytest.approx(2 * pacing.interval_us / 1e6)
    assert after[0].epoch == refused.epoch + 1


def test_refusals_of_calls_sent_before_the_slow_down_do_not_slow_it_again() -> None:
    limiter, clock, pacing = backend()
    in_flight = [limiter.reserve() for _ in range(3)]
    clock.now += in_flight[-1].wait_s  # all three have gone, at the old rate

    for refused in in_flight:
        limiter.cool_down(refused.gateway, refused.send_at_us, 1.0)
    first, second = limiter.reserve(), limiter.reserve()

    assert second.wait_s - first.wait_s == pytest.approx(2 * pacing.interval_us / 1e6)


def test_a_refusal_without_retry_after_still_cools_down_and_it_never_drops_below_the_floor() -> (
    None
):
    limiter, clock, pacing = backend()
    for _ in range(10):
        refused = limiter.reserve()
        clock.now += refused.wait_s
        limiter.cool_down(refused.gateway, refused.send_at_us, DEFAULT_COOL_DOWN_S)
        clock.now += DEFAULT_COOL_DOWN_S

    first, second = limiter.reserve(), limiter.reserve()

    assert second.wait_s - first.wait_s == pytest.approx(pacing.interval_us / 1e6 / MIN_RATE_FACTOR)


def test_the_rate_climbs_back_after_the_cool_down() -> None:
    limiter, clock, pacing = backend()
    refused = limiter.reserve()
    limiter.cool_down(refused.gateway, refused.send_at_us, 1.0)

    clock.now += 1.0 + pacing.window_us / 1e6  # one window after the cool-down ended
    first, second = limiter.reserve(), limiter.reserve()

    factor = 0.5 + RECOVERY_PER_WINDOW
    assert second.wait_s - first.wait_s == pytest.approx(pacing.interval_us / 1e6 / factor)


def test_without_a_limit_calls_go_at_once_but_a_429_still_cools_down() -> None:
    limiter = LocalBackend(gateways=(None,), pacing=Pacing.for_limit(None), max_in_flight=None)

    assert [limiter.reserve().wait_s for _ in range(100)] == [0] * 100
    refused = limiter.reserve()
    limiter.cool_down(None, refused.send_at_us, 3.0)
    assert limiter.reserve().wait_s == pytest.approx(3.0, abs=0.01)


def test_slots_are_capped_and_come_back_on_release() -> None:
    limiter, _, _ = backend()

    assert limiter.take_slot("a") and limiter.take_slot("b")
    assert not limiter.take_slot("c")
    limiter.release_slot("a")
    assert limiter.take_slot("c")
