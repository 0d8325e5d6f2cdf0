"""The wait before a retry: Retry-After when given, else exponential backoff with full jitter."""

import pytest

from worker.backoff import retry_delay

LIMITS = {"base_s": 2.0, "max_s": 300.0}


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
