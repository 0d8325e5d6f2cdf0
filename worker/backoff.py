"""How long a job waits before its next attempt after a transient error."""

import random

#: the first retry waits about this long; each further one doubles it
BASE_DELAY_S = 2.0
#: no retry waits longer; far below the broker's visibility timeout (config.celery_config)
MAX_DELAY_S = 300.0


def retry_delay(attempt: int, retry_after: float | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1`: the provider's `Retry-After` when it gave one,
    else exponential backoff with full jitter, so a fleet that failed together does not retry
    together."""
    if retry_after is not None:
        return min(max(retry_after, 0.0), MAX_DELAY_S)
    ceiling = min(MAX_DELAY_S, BASE_DELAY_S * 2 ** max(attempt - 1, 0))
    return random.uniform(ceiling / 2, ceiling)
