"""The per-gateway sliding-window limit, and the evidence of how close clients came to it.

Cloudflare limits partner models per AI Gateway (200 requests / 60 s under Unified Billing), so each
`cf-aig-gateway-id` gets its own window. The window keeps the times of accepted calls only:
refused calls are not counted, so a client hammering through 429s does not lock itself out.
`max_calls_in_any_window` counts accepted calls, which the limit itself caps; what proves a client
kept to the limit is `max_offered_in_any_window`, which counts every call that arrived, refused
or not.
"""

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from jobs.rates import RateLimit

#: the window `max_calls_in_any_window` is measured over when no limit is set (Cloudflare's)
UNLIMITED_STATS_WINDOW_S = 60.0


@dataclass
class _GatewayWindow:
    """One gateway's accepted calls within the last window, oldest first."""

    calls: deque[float]
    #: every call's arrival within the last window, accepted or refused
    offered: deque[float] = field(default_factory=deque)
    accepted: int = 0
    max_calls_in_any_window: int = 0
    max_offered_in_any_window: int = 0

    def offer(self, now: float, window_s: float) -> None:
        """Count an arriving call in the offered window, dropping what has left it."""
        offered = self.offered
        while offered and offered[0] <= now - window_s:
            offered.popleft()
        offered.append(now)
        self.max_offered_in_any_window = max(self.max_offered_in_any_window, len(offered))


@dataclass
class SlidingWindowLimiter:
    """Admits at most `limit.count` calls in any `limit.window_s` seconds, per gateway."""

    limit: RateLimit | None
    clock: Callable[[], float] = time.monotonic
    _windows: dict[str, _GatewayWindow] = field(default_factory=dict)

    @property
    def window_s(self) -> float:
        return self.limit.window_s if self.limit else UNLIMITED_STATS_WINDOW_S

    def admit(self, gateway: str) -> int | None:
        """None when the call is accepted, else whole seconds until a slot frees (at least 1)."""
        now = self.clock()
        window = self._windows.get(gateway)
        if window is None:
            # bounded by the limit; without one, pruning bounds it to one window's calls
            window = _GatewayWindow(deque(maxlen=self.limit.count if self.limit else None))
            self._windows[gateway] = window
        window.offer(now, self.window_s)
        calls = window.calls
        while calls and calls[0] <= now - self.window_s:
            calls.popleft()
        if self.limit and len(calls) >= self.limit.count:
            return max(1, math.ceil(calls[0] + self.window_s - now))
        calls.append(now)
        window.accepted += 1
        # a window holding the most calls can always be slid to end on one: checking each
        # accepted call's trailing window finds the maximum over every window
        window.max_calls_in_any_window = max(window.max_calls_in_any_window, len(calls))
        return None

    def clear(self) -> None:
        """Forget every gateway's history (a stats reset)."""
        self._windows.clear()

    def snapshot(self) -> dict[str, dict[str, int]]:
        """Per gateway: calls accepted, the most accepted and the most offered in any window."""
        return {
            gateway: {
                "accepted": window.accepted,
                "max_calls_in_any_window": window.max_calls_in_any_window,
                "max_offered_in_any_window": window.max_offered_in_any_window,
            }
            for gateway, window in self._windows.items()
        }
