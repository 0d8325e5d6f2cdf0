"""The running emulator's mutable parts in one place: configuration, counters, limiter, draws.

The request handlers and the control endpoints share this object. Everything runs on the event
loop (only image drawing goes to threads, and it touches none of this), so no locks are needed.
"""

import random
from collections import deque
from typing import Any

from emulator.config import EmulatorConfig
from emulator.faults import FaultKind, draw_fault
from emulator.ratelimit import SlidingWindowLimiter
from emulator.stats import Stats


class EmulatorState:
    """What one emulator process knows."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.stats = Stats()
        self.limiter = SlidingWindowLimiter(config.rate_limit)
        self.rng = random.Random(config.seed)
        #: faults the next calls suffer, in order (`POST /__emulator/inject`)
        self.injected: deque[FaultKind] = deque()

    def configure(self, config: EmulatorConfig) -> None:
        """Switch to `config`. The draws restart from its seed; a changed limit starts empty."""
        if config.rate_limit != self.config.rate_limit:
            self.limiter = SlidingWindowLimiter(config.rate_limit)
        self.config = config
        self.rng.seed(config.seed)

    def reset(self) -> None:
        """Zero the counters, empty the rate windows and restart the draws from the seed."""
        self.stats.reset()
        self.limiter.clear()
        self.injected.clear()
        self.rng.seed(self.config.seed)

    def latency(self) -> float:
        """Seconds the next accepted call waits before it is answered."""
        jitter = self.rng.uniform(0.0, self.config.jitter_s) if self.config.jitter_s else 0.0
        return self.config.latency_s + jitter

    def inject(self, kind: FaultKind, count: int) -> None:
        """The next `count` calls suffer `kind`, whatever the probabilities say."""
        self.injected.extend([kind] * count)

    def draw_fault(self) -> FaultKind | None:
        """The fault the next accepted call suffers, if any: an injected one first."""
        if self.injected:
            return self.injected.popleft()
        return draw_fault(self.rng, self.config.faults)

    def snapshot(self) -> dict[str, Any]:
        """`GET /__emulator/stats`: the counters plus each gateway's rate-window evidence."""
        gateways = self.limiter.snapshot()
        return {
            **self.stats.snapshot(),
            "window_s": self.limiter.window_s,
            "max_calls_in_any_window": max(
                (gateway["max_calls_in_any_window"] for gateway in gateways.values()), default=0
            ),
            "gateways": gateways,
        }
