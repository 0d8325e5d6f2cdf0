"""How long to wait before trying again: exponential backoff, and the retry delay built on it.

A job's wait is kept in the results table as its due time, not in a delayed message held by a
worker or the broker, so any delay is safe: no worker holds it, and no broker visibility timeout
can re-deliver it early. The webhook sender waits between its tries with the same doubling.
"""

import math
import random
from collections.abc import Callable

#: draws a number between its two bounds (`random.uniform`; a test's stand-in)
Draw = Callable[[float, float], float]


def exponential_backoff(attempt: int, *, base_s: float, max_s: float = math.inf) -> float:
    """Seconds to wait after try `attempt` (1 for the first): `base_s`, doubled for each try
    after the first, capped at `max_s`."""
    return min(max_s, base_s * 2.0 ** max(attempt - 1, 0))


def retry_delay(
    attempt: int,
    retry_after: float | None,
    *,
    base_s: float,
    max_s: float,
    draw: Draw = random.uniform,
) -> float:
    """Seconds to wait before attempt `attempt + 1`: the provider's `Retry-After` when it gave one
    (capped at `max_s`), else the exponential backoff with equal jitter: a wait drawn uniformly
    between half of it and all of it. Half is kept so that retries still back off; half is
    jittered so that a fleet that failed together does not retry together."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), max_s)
    ceiling = exponential_backoff(attempt, base_s=base_s, max_s=max_s)
    return draw(ceiling / 2, ceiling)
