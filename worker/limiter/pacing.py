"""How fast each gateway may be called: the numbers both limiter backends pace by.

The limit is what the provider enforces over a sliding window (Cloudflare: 200 calls in any 60 s
per gateway). Pacing turns it into GCRA terms: an interval between calls and a burst, chosen so
that no window can ever hold more than the limit. A burst of `b` calls at once plus calls every
`interval` fill a window with `b - 1 + window / interval` calls, so the interval is stretched to
leave room for the burst, and by a small safety margin: a call paced exactly on time reaches the
provider a few milliseconds late or early, and two calls a window apart must never land inside one.
"""

from dataclasses import dataclass
from typing import Self

from jobs.rates import RateLimit

#: the window is paced as if this much longer, so arrival jitter cannot put the limit + 1st call
#: inside a window (1 % of 60 s: 0.6 s, far above loopback or datacentre jitter)
SAFETY_MARGIN_FRACTION = 0.01
#: the least margin, for short windows where 1 % would be a few milliseconds
MIN_SAFETY_MARGIN_S = 0.1
#: a refusal that repeats within one window multiplies the gateway's rate by this, at most once a
#: window (the fleet backs off hard, as TCP does); a lone refusal (timing jitter put one call too
#: many in a window) only cools the gateway down and leaves the rate alone...
DECREASE_FACTOR = 0.5
#: ...but never below this share of the configured rate
MIN_RATE_FACTOR = 1 / 16
#: after a cool-down the rate climbs back by this share of the configured rate per window
RECOVERY_PER_WINDOW = 0.1
#: how long the fleet cools down after a 429 that carried no Retry-After: a sliding window frees a
#: slot one interval after it filled (0.3 s at Cloudflare's 200/60s), so a second is enough for a
#: lone refusal; each repeat doubles it (up to a window), and lowering the rate does the rest
DEFAULT_COOL_DOWN_S = 1.0

#: the window recovery is measured over when no limit is set (Cloudflare's)
UNLIMITED_WINDOW_S = 60.0

MICROS = 1_000_000


@dataclass(frozen=True)
class Pacing:
    """One gateway's pace at the full configured rate, in microseconds."""

    interval_us: int
    burst: int
    window_us: int

    @classmethod
    def for_limit(cls, limit: RateLimit | None, burst: int = 1) -> Self:
        """The pace that keeps every window at or under `limit`, with `burst` calls at once.

        No limit is a pace of zero: every call may go at once (cool-downs still apply).
        """
        if limit is None:
            return cls(0, burst, round(UNLIMITED_WINDOW_S * MICROS))
        margin_s = max(limit.window_s * SAFETY_MARGIN_FRACTION, MIN_SAFETY_MARGIN_S)
        interval_s = (limit.window_s + margin_s) / (limit.count - burst + 1)
        return cls(round(interval_s * MICROS), burst, round(limit.window_s * MICROS))

    @property
    def recovery_per_us(self) -> float:
        """How much of the configured rate comes back per microsecond after a cool-down."""
        return RECOVERY_PER_WINDOW / self.window_us

    @property
    def state_ttl_ms(self) -> int:
        """How long a gateway's state outlives its last use: ten windows, then it starts fresh."""
        return 10 * self.window_us // 1000
