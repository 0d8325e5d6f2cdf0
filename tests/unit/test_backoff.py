"""The wait before a retry: Retry-After when given, else exponential backoff with equal jitter."""

from typing import TypedDict

import pytest

from jobs.backoff import exponential_backoff, retry_delay


class Limits(TypedDict):
    base_s: float
    max_s: float


LIMITS: Limits = {"base_s": 2.0, "max_s": 300.0}


@pytest.mark.parametrize(
    ("attempt", "low", "high"), [(1, 1, 2), (2, 2, 4), (3, 4, 8), (9, 150, 300)]
)
def test_each_attempt_waits_up_to_twice_as_long_as_the_last(
    attempt: int, low: float, high: float
) -> None:
    delays = [retry_delay(attempt, None, **LIMITS) for _ in range(200)]

    assert all(low <= delay <= high for delay in delays)
    assert len(set(delays)) > 150  # jittered: a fleet that failed together spreads out


def test_retry_after_is_honoured_up_to_the_maximum() -> None:
    assert retry_delay(1, 7, **LIMITS) == 7
    assert retry_delay(1, 3600, **LIMITS) == 300
    assert retry_delay(4, -5, **LIMITS) == 0


def test_no_wait_passes_the_maximum_however_many_attempts() -> None:
    assert max(retry_delay(60, None, **LIMITS) for _ in range(100)) <= 300


def test_the_backoff_doubles_from_its_base_up_to_its_cap() -> None:
    waits = [exponential_backoff(attempt, base_s=2.0, max_s=20.0) for attempt in range(1, 6)]

    assert waits == [2.0, 4.0, 8.0, 16.0, 20.0]
    assert exponential_backoff(0, base_s=2.0) == 2.0
    assert exponential_backoff(40, base_s=2.0) == 2.0 * 2**39  # no cap unless one is given


def test_the_jitter_is_equal_jitter_between_half_the_backoff_and_all_of_it() -> None:
    bounds: list[tuple[float, float]] = []

    def lowest(low: float, high: float) -> float:
        bounds.append((low, high))
        return low

    assert retry_delay(3, None, **LIMITS, draw=lowest) == 4.0
    assert bounds == [(4.0, 8.0)]
