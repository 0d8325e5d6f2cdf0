"""Pacing: the interval and burst that keep every window of the provider's limit at or under it.

Both backends book calls by these numbers; their schedules are held to one suite in
tests/unit/test_limiter_backends.py.
"""

import pytest

from jobs.rates import RateLimit
from worker.limiter.pacing import Pacing


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
