"""What the emulator counted: calls, answers by status and fault, images billed, calls in flight,
and the last calls themselves.

Benchmarks and tests read these through `GET /__emulator/stats` (and `/__emulator/calls`) to check
what a client did from the provider's side: how many images it paid for, how many calls it had in
flight, what it was told, which headers it sent.
"""

from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

from emulator.faults import FaultKind

#: The calls `GET /__emulator/calls` shows, newest last: a test makes tens, and a benchmark of a
#: million calls keeps only these (each a few hundred bytes).
RECENT_CALLS = 1000


@dataclass(frozen=True)
class CallRecord:
    """One call as `GET /__emulator/calls` shows it."""

    #: the model the body named (None when it named none)
    model: str | None
    gateway: str
    #: its `cf-aig-metadata` (None: not sent, or refused)
    metadata: dict[str, Any] | None
    log_id: str
    status: int
    #: images the answer carried, each billed
    images: int
    skip_cache: bool
    max_attempts: int | None


@dataclass
class Stats:
    """Counters since start or the last reset. Touched only from the event loop, so unlocked."""

    requests: int = 0
    #: images answered: what Cloudflare charges for (a Seedream 4.5 call may answer several)
    billed: int = 0
    #: calls answered with at least one image
    billed_calls: int = 0
    #: calls refused by the emulator's own rate limit (not the injected `capacity` fault)
    rate_limited: int = 0
    #: GETs of generated image URLs
    images_served: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_fault: Counter[FaultKind] = field(default_factory=Counter)
    calls: deque[CallRecord] = field(default_factory=lambda: deque(maxlen=RECENT_CALLS))

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

    def record(self, call: CallRecord, *, fault: FaultKind | None, rate_limited: bool) -> None:
        """Count how one call was answered, and keep it among the recent calls."""
        self.by_status[call.status] += 1
        if fault is not None:
            self.by_fault[fault] += 1
        self.billed += call.images
        self.billed_calls += call.images > 0
        self.rate_limited += rate_limited
        self.calls.append(call)

    def reset(self) -> None:
        """Zero the counters. Calls still in flight stay counted there: they have not finished."""
        self.requests = self.billed = self.billed_calls = 0
        self.rate_limited = self.images_served = 0
        self.max_in_flight = self.in_flight
        self.by_status.clear()
        self.by_fault.clear()
        self.calls.clear()

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON-ready values (status codes as strings, as JSON keys must be)."""
        return {
            "requests": self.requests,
            "billed": self.billed,
            "billed_calls": self.billed_calls,
            "rate_limited": self.rate_limited,
            "images_served": self.images_served,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "by_status": {str(status): count for status, count in sorted(self.by_status.items())},
            "by_fault": {str(kind): count for kind, count in sorted(self.by_fault.items())},
        }

    def recent_calls(self) -> list[dict[str, Any]]:
        """`GET /__emulator/calls`: the last RECENT_CALLS calls, oldest first."""
        return [asdict(call) for call in self.calls]
