"""One suite for the limiter's two backends: the in-process one (embedded mode, Python) and the
Redis one (a fleet, Lua on a real redis-server).

The GCRA schedule, cool-downs, halving and recovery are written twice; every scenario here runs
against both, on one fake clock (the Redis scripts take its reading instead of Redis' `TIME`), and
holds them to the same numbers, so the two cannot drift apart. What only one backend has (slot
leases in Redis, atomicity across processes) is tested in tests/unit/test_redis_limiter.py and
tests/integration/test_fleet_limiter.py.
"""

import math
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import redis

from jobs.rates import RateLimit
from tests.support.fake_clock import FakeClock
from tests.support.rate_windows import most_in_any_window
from worker.limiter.backend import LimiterBackend
from worker.limiter.limiter import Limiter
from worker.limiter.local_backend import LocalBackend
from worker.limiter.pacing import (
    DEFAULT_COOL_DOWN_S,
    MIN_RATE_FACTOR,
    RECOVERY_PER_WINDOW,
    Pacing,
)
from worker.limiter.redis_backend import RedisBackend

#: the slot lease the Redis backend is opened with (the in-process one needs none)
LEASE_S = 30.0


#: opens a view of the test's one limiter state: (limit, burst=, gateways=, max_in_flight=)
OpenBackend = Callable[..., tuple[LimiterBackend, FakeClock, Pacing]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["in-process", "redis"])
def open_backend(request: pytest.FixtureRequest, clock: FakeClock) -> Iterator[OpenBackend]:
    """Each call opens one more worker's view of the same state: for Redis a new client on the
    same keys (another process), in process the one backend its threads share."""
    clients: list[redis.Redis] = []
    shared: list[LocalBackend] = []

    def open_(
        limit: str = "10/1s",
        *,
        burst: int = 1,
        gateways: tuple[str | None, ...] = (None,),
        max_in_flight: int | None = 2,
    ) -> tuple[LimiterBackend, FakeClock, Pacing]:
        pacing = Pacing.for_limit(RateLimit.parse(limit), burst)
        backend: LimiterBackend
        if request.param == "in-process":
            if not shared:
                shared.append(
                    LocalBackend(
                        gateways=gateways, pacing=pacing, max_in_flight=max_in_flight, clock=clock
                    )
                )
            backend = shared[0]
        else:
            clients.append(redis.Redis.from_url(request.getfixturevalue("fresh_redis")))
            backend = RedisBackend(
                clients[-1],
                namespace="test:limit",
                gateways=gateways,
                pacing=pacing,
                max_in_flight=max_in_flight,
                lease_s=LEASE_S,
                clock=clock,
            )
        return backend, clock, pacing

    yield open_
    for client in clients:
        client.close()


def interval_s(pacing: Pacing) -> float:
    return pacing.interval_us / 1e6


def send_times(limiter: LimiterBackend, calls: int) -> list[float]:
    """When each of `calls` reservations made at once (threads queueing together) may go."""
    return [limiter.reserve().send_at_us / 1e6 for _ in range(calls)]


# pacing


@pytest.mark.parametrize(
    ("limit", "burst"), [("10/1s", 1), ("10/1s", 3), ("200/60s", 1), ("600/60s", 20)]
)
def test_no_window_holds_more_than_the_limit_and_the_busiest_holds_nearly_all_of_it(
    open_backend: OpenBackend, limit: str, burst: int
) -> None:
    limiter, _, _ = open_backend(limit, burst=burst)
    rate = RateLimit.parse(limit)
    assert rate is not None

    most = most_in_any_window(send_times(limiter, 3 * rate.count), rate.window_s)

    assert 0.98 * rate.count <= most <= rate.count


def test_calls_are_booked_one_interval_apart_and_told_how_long_to_wait(
    open_backend: OpenBackend,
) -> None:
    limiter, _, pacing = open_backend()

    waits = [limiter.reserve().wait_s for _ in range(4)]

    interval = interval_s(pacing)
    assert waits == pytest.approx([0, interval, 2 * interval, 3 * interval])


def test_a_thread_that_sleeps_out_each_wait_goes_exactly_on_its_turn(
    open_backend: OpenBackend,
) -> None:
    backend, clock, pacing = open_backend()
    limiter = Limiter(backend, capped=False, lease_s=LEASE_S, sleep=clock.advance)
    start = clock()

    sent = []
    for _ in range(5):
        with limiter.permit() as permit:
            assert permit.sent_at_us == pytest.approx(clock() * 1e6)
            sent.append(clock() - start)

    assert sent == pytest.approx([k * interval_s(pacing) for k in range(5)])


def test_without_a_limit_calls_go_at_once_but_a_429_still_cools_down(
    open_backend: OpenBackend,
) -> None:
    limiter, _, _ = open_backend("none", max_in_flight=None)

    assert [limiter.reserve().wait_s for _ in range(100)] == [0] * 100
    refused = limiter.reserve()
    limiter.cool_down(None, refused.send_at_us, 3.0)
    assert limiter.reserve().wait_s == pytest.approx(3.0)


# bursts


def test_a_burst_goes_at_once_then_the_pace_takes_over(open_backend: OpenBackend) -> None:
    limiter, _, pacing = open_backend(burst=3)

    waits = [limiter.reserve().wait_s for _ in range(5)]

    interval = interval_s(pacing)
    assert waits == pytest.approx([0, 0, 0, interval, 2 * interval])


def test_an_idle_spell_does_not_bank_more_than_the_burst(open_backend: OpenBackend) -> None:
    limiter, clock, _ = open_backend(burst=2)
    limiter.reserve()
    clock.advance(3600)

    waits = [limiter.reserve().wait_s for _ in range(3)]

    assert waits[:2] == [0, 0]
    assert waits[2] > 0


# gateways


def test_each_call_goes_through_the_gateway_free_soonest(open_backend: OpenBackend) -> None:
    limiter, _, pacing = open_backend(gateways=("g1", "g2", "g3"))

    booked = [limiter.reserve() for _ in range(6)]

    assert {r.gateway for r in booked[:3]} == {"g1", "g2", "g3"}  # three calls, three gateways
    assert [r.wait_s for r in booked[:3]] == [0, 0, 0]
    # three gateways, three times the rate: the 4th-6th calls wait one interval, not three
    assert [r.wait_s for r in booked[3:]] == pytest.approx([interval_s(pacing)] * 3)


def test_each_gateway_keeps_its_own_limit_and_together_they_multiply_it(
    open_backend: OpenBackend,
) -> None:
    limiter, _, _ = open_backend("10/1s", gateways=("g1", "g2", "g3"))

    booked = [limiter.reserve() for _ in range(90)]

    for gateway in ("g1", "g2", "g3"):
        times = [r.send_at_us / 1e6 for r in booked if r.gateway == gateway]
        assert len(times) == 30
        assert most_in_any_window(times, 1.0) == 10
    assert most_in_any_window([r.send_at_us / 1e6 for r in booked], 1.0) == 30


def test_a_gateway_cooling_down_is_passed_over_while_the_others_keep_their_pace(
    open_backend: OpenBackend,
) -> None:
    limiter, _, pacing = open_backend(gateways=("g1", "g2", "g3"))
    refused = limiter.reserve()
    assert refused.gateway is not None
    limiter.cool_down(refused.gateway, refused.send_at_us, 5.0)

    booked = [limiter.reserve() for _ in range(6)]

    assert refused.gateway not in {r.gateway for r in booked}
    interval = interval_s(pacing)
    # the other two take the calls at their own full pace, two by two
    assert [r.wait_s for r in booked] == pytest.approx(
        [0, 0, interval, interval, 2 * interval, 2 * interval]
    )


# cool-down


def test_a_lone_refusal_pauses_the_gateway_for_its_retry_after_and_keeps_its_rate(
    open_backend: OpenBackend,
) -> None:
    limiter, _, pacing = open_backend()
    refused = limiter.reserve()

    limiter.cool_down(refused.gateway, refused.send_at_us, 2.0)
    after = [limiter.reserve() for _ in range(2)]

    assert after[0].wait_s == pytest.approx(2.0)
    assert after[1].wait_s - after[0].wait_s == pytest.approx(interval_s(pacing))
    assert after[0].epoch == refused.epoch + 1


def test_a_cool_down_one_worker_reports_holds_back_every_worker_and_voids_their_turns(
    open_backend: OpenBackend,
) -> None:
    reporter, _, _ = open_backend()
    other, _, _ = open_backend()
    booked = other.reserve()

    refused = reporter.reserve()
    reporter.cool_down(refused.gateway, refused.send_at_us, DEFAULT_COOL_DOWN_S)

    assert other.epoch(booked.gateway) != booked.epoch
    assert other.reserve().wait_s == pytest.approx(DEFAULT_COOL_DOWN_S)


def test_a_shorter_retry_after_does_not_cut_a_cool_down_short(open_backend: OpenBackend) -> None:
    limiter, clock, _ = open_backend()
    refused = [limiter.reserve() for _ in range(2)]
    limiter.cool_down(None, refused[1].send_at_us, 5.0)
    epoch = limiter.epoch(None)

    clock.advance(1.0)
    limiter.cool_down(None, refused[0].send_at_us, 1.0)

    assert limiter.epoch(None) == epoch  # nothing changed: no turn is voided
    assert limiter.reserve().wait_s == pytest.approx(4.0)


def test_a_longer_retry_after_extends_the_cool_down(open_backend: OpenBackend) -> None:
    limiter, clock, _ = open_backend()
    refused = [limiter.reserve() for _ in range(2)]
    limiter.cool_down(None, refused[1].send_at_us, 2.0)

    clock.advance(1.0)
    limiter.cool_down(None, refused[0].send_at_us, 10.0)

    assert limiter.reserve().wait_s == pytest.approx(10.0)


# halving: only when refusals repeat within a window


def refuse_again_after_cooling(limiter: LimiterBackend, clock: FakeClock, cool_s: float) -> None:
    """A call sent once the last cool-down is over, refused in its turn (with `cool_s` asked)."""
    refused = limiter.reserve()
    clock.advance(refused.wait_s)
    limiter.cool_down(refused.gateway, refused.send_at_us, cool_s)


def gap_s(limiter: LimiterBackend) -> float:
    first, second = limiter.reserve(), limiter.reserve()
    return second.wait_s - first.wait_s


def test_a_refusal_repeated_within_a_window_halves_the_rate(open_backend: OpenBackend) -> None:
    limiter, clock, pacing = open_backend()
    refuse_again_after_cooling(limiter, clock, 0.5)

    refuse_again_after_cooling(limiter, clock, 0.5)

    assert gap_s(limiter) == pytest.approx(2 * interval_s(pacing))


def test_a_refusal_more_than_a_window_after_the_last_is_lone_again(
    open_backend: OpenBackend,
) -> None:
    limiter, clock, pacing = open_backend()
    refuse_again_after_cooling(limiter, clock, 0.5)
    clock.advance(0.5 + pacing.window_us / 1e6)

    refuse_again_after_cooling(limiter, clock, 0.5)

    first, second = limiter.reserve(), limiter.reserve()
    assert first.wait_s == pytest.approx(0.5)  # as brief a cool-down as the first
    assert second.wait_s - first.wait_s == pytest.approx(interval_s(pacing))


def test_refusals_of_calls_in_flight_when_the_first_was_noted_are_the_same_refusal(
    open_backend: OpenBackend,
) -> None:
    limiter, clock, pacing = open_backend()
    in_flight = [limiter.reserve() for _ in range(3)]
    clock.advance(in_flight[-1].wait_s)  # all three have gone, at the old rate

    for refused in in_flight:
        limiter.cool_down(refused.gateway, refused.send_at_us, 1.0)

    assert gap_s(limiter) == pytest.approx(interval_s(pacing))


def test_capacity_refusals_never_lower_the_rate(open_backend: OpenBackend) -> None:
    limiter, clock, pacing = open_backend()
    for _ in range(3):
        refused = limiter.reserve()
        clock.advance(refused.wait_s)
        limiter.cool_down(refused.gateway, refused.send_at_us, 0.5, lowers=False)
        clock.advance(0.5)

    assert gap_s(limiter) == pytest.approx(interval_s(pacing))


def test_refusals_of_calls_sent_before_the_slow_down_do_not_slow_it_again(
    open_backend: OpenBackend,
) -> None:
    limiter, clock, pacing = open_backend()
    refuse_again_after_cooling(limiter, clock, 0.5)
    in_flight = [limiter.reserve() for _ in range(3)]
    clock.advance(in_flight[-1].wait_s)  # all three have gone

    for refused in in_flight:  # the first halves; the others were sent before it did
        limiter.cool_down(refused.gateway, refused.send_at_us, 0.5)

    assert gap_s(limiter) == pytest.approx(2 * interval_s(pacing))


def test_each_repeat_doubles_the_cool_down_up_to_a_window(open_backend: OpenBackend) -> None:
    limiter, clock, _ = open_backend("100/10s")
    cool_downs = []
    for _ in range(6):
        refuse_again_after_cooling(limiter, clock, 1.0)
        cool_downs.append(round(limiter.reserve().wait_s, 2))

    # capped at the window (10 s); a refusal a whole window after the last is lone again
    assert cool_downs == [1.0, 2.0, 4.0, 8.0, 10.0, 1.0]


def test_refusals_within_a_window_of_a_decrease_do_not_lower_it_again(
    open_backend: OpenBackend,
) -> None:
    limiter, clock, pacing = open_backend("100/10s")
    for _ in range(3):  # halved by the second; the third comes 2 s after it, in its window
        refuse_again_after_cooling(limiter, clock, 1.0)

    assert gap_s(limiter) == pytest.approx(2 * interval_s(pacing))


def test_a_refusal_a_window_after_a_decrease_at_the_lowered_rate_halves_it_again(
    open_backend: OpenBackend,
) -> None:
    limiter, clock, pacing = open_backend()
    for _ in range(3):  # 0.5 s, then 1 s (doubled, a window): the third is a window later
        refuse_again_after_cooling(limiter, clock, 0.5)

    assert gap_s(limiter) == pytest.approx(4 * interval_s(pacing))


def test_repeated_refusals_without_retry_after_never_drop_the_rate_below_the_floor(
    open_backend: OpenBackend,
) -> None:
    limiter, clock, pacing = open_backend()
    for _ in range(10):
        refuse_again_after_cooling(limiter, clock, DEFAULT_COOL_DOWN_S)

    assert gap_s(limiter) == pytest.approx(interval_s(pacing) / MIN_RATE_FACTOR)


# recovery


def test_the_rate_climbs_back_after_the_cool_down(open_backend: OpenBackend) -> None:
    limiter, clock, pacing = open_backend()
    refuse_again_after_cooling(limiter, clock, 0.5)
    refuse_again_after_cooling(limiter, clock, 0.5)  # halved, cooled down for 2 × 0.5 s

    clock.advance(1.0 + pacing.window_us / 1e6)  # one window after the cool-down ended

    factor = 0.5 + RECOVERY_PER_WINDOW
    whole_us = math.floor(pacing.interval_us / factor)  # the schedule keeps whole microseconds
    assert gap_s(limiter) == pytest.approx(whole_us / 1e6)


def test_the_rate_climbs_back_to_the_configured_one_and_no_further(
    open_backend: OpenBackend,
) -> None:
    limiter, clock, pacing = open_backend()
    for _ in range(10):  # down to the floor
        refuse_again_after_cooling(limiter, clock, 1.0)

    # past the last cool-down (1 s), then ten windows: 1/16 + 10 tenths is more than all of it
    clock.advance(1.0 + 10 * pacing.window_us / 1e6)

    assert gap_s(limiter) == pytest.approx(interval_s(pacing))


# fleet health: each gateway's last success and refusal streak, shared by every worker


def test_a_refusal_starts_a_streak_that_later_refusals_extend(open_backend: OpenBackend) -> None:
    limiter, clock, _ = open_backend()
    start = clock()
    first = limiter.note_refusal(None)
    clock.advance(7.0)

    later = limiter.note_refusal(None)

    assert first.refused_since_us == later.refused_since_us == round(start * 1e6)
    assert later.now_us == round((start + 7.0) * 1e6)
    assert later.succeeded_at_us == 0


def test_a_success_any_worker_notes_ends_the_streak_for_every_worker(
    open_backend: OpenBackend,
) -> None:
    one, clock, _ = open_backend()
    other, _, _ = open_backend()
    one.note_refusal(None)
    clock.advance(3.0)

    other.note_success(None)
    clock.advance(2.0)
    seen = one.note_refusal(None)

    assert seen.succeeded_at_us == seen.now_us - 2_000_000
    assert seen.refused_since_us == seen.now_us  # a new streak, begun by this refusal


def test_each_gateway_keeps_its_own_record(open_backend: OpenBackend) -> None:
    limiter, _, _ = open_backend(gateways=("g1", "g2"))
    limiter.note_success("g1")

    assert limiter.note_refusal("g2").succeeded_at_us == 0
    assert limiter.note_refusal("g1").succeeded_at_us > 0


# slots


def test_slots_are_capped_and_come_back_on_release(open_backend: OpenBackend) -> None:
    limiter, _, _ = open_backend()

    assert limiter.take_slot("a")
    assert limiter.take_slot("b")
    assert not limiter.take_slot("c")
    limiter.release_slot("a")
    assert limiter.take_slot("c")


def test_slots_are_shared_by_every_worker(open_backend: OpenBackend) -> None:
    one, _, _ = open_backend()
    other, _, _ = open_backend()

    assert one.take_slot("a")
    assert other.take_slot("b")
    assert not one.take_slot("c")
    assert not other.take_slot("c")
    other.release_slot("a")
    assert one.take_slot("c")


def test_a_release_wakes_a_thread_waiting_for_a_slot(open_backend: OpenBackend) -> None:
    limiter, _, _ = open_backend()
    assert limiter.take_slot("a")
    assert limiter.take_slot("b")
    releaser = threading.Timer(0.2, limiter.release_slot, ["a"])

    releaser.start()
    started = time.monotonic()
    limiter.wait_for_slot(10.0)
    waited = time.monotonic() - started
    releaser.join()

    assert 0.1 <= waited < 5.0  # woken by the release, not by the timeout
    assert limiter.take_slot("c")


def test_a_waiter_with_no_release_waits_out_its_timeout(open_backend: OpenBackend) -> None:
    limiter, _, _ = open_backend()
    assert limiter.take_slot("a")
    assert limiter.take_slot("b")

    started = time.monotonic()
    limiter.wait_for_slot(0.3)

    assert time.monotonic() - started >= 0.25
    assert not limiter.take_slot("c")
