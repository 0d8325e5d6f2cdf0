"""How long a job waits before its next attempt after a transient error.

The wait is kept in the results table as the job's due time, not in a delayed message held by a
worker or the broker, so any delay is safe: no worker holds it, and no broker visibility timeout
can re-deliver it early.
"""

import random


def retry_delay(attempt: int, retry_after: float | None, *, base_s: float, max_s: float) -> float:
    """Seconds to wait before attempt `attempt + 1`: the provider's `Retry-After` when it gave one
    (capped at `max_s`), else exponential backoff from `base_s` with full jitter in its upper half,
    so a fleet that failed together does not retry together."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), max_s)
    ceiling = min(max_s, base_s * 2 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)
