"""What the emulator counted: calls, answers by status and fault, images billed, calls in flight.

Benchmarks and tests read these through `GET /__emulator/stats` to check what a client did from the
provider's side: how many images it paid for, how many calls it had in flight, what it was told.
"""

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from emulator.faults import FaultKind


@dataclass
class Stats:
    """Counters since start or the last reset. Touched only from the event loop, so unlocked."""

    requests: int = 0
    #: calls answered with an image: what Cloudflare would charge for
    billed: int = 0
    #: calls refused by the emulator's own rate limit (not the injected `capacity` fault)
    rate_limited: int = 0
    #: GETs of generated image URLs
    images_served: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_fault: Counter[FaultKind] = field(default_factory=Counter)

    @contextmanager
    def call(self) -> Iterator[None]:
        """Count one call to the model for as long as it is being answered."""
        self.requests += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1

    def record(
        self, status: int, *, fault: FaultKind | None, billed: bool, rate_limited: bool
    ) -> None:
        """Count how one call was answered."""
        self.by_status[status] += 1
        if fault is not None:
            self.by_fault[fault] += 1
        self.billed += billed
        self.rate_limited += rate_limited

    def reset(self) -> None:
        """Zero the counters. Calls still in flight stay counted there: they have not finished."""
        self.requests = self.billed = self.rate_limited = self.images_served = 0
        self.max_in_flight = self.in_flight
        self.by_status.clear()
        self.by_fault.clear()

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready values (status codes as strings, as JSON keys must be)."""
        return {
            "requests": self.requests,
            "billed": self.billed,
            "rate_limited": self.rate_limited,
            "images_served": self.images_served,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "by_status": {str(status): count for status, count in sorted(self.by_status.items())},
            "by_fault": {str(kind): count for kind, count in sorted(self.by_fault.items())},
        }
