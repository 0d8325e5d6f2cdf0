"""What a limiter backend does, whichever store holds the fleet's state.

A backend answers in single atomic steps (one Redis script each, or one lock hold in process), and
never blocks except in `wait_for_slot`: the waiting policy lives in `worker.limiter.limiter`, once,
for both backends.
"""

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Reservation:
    """A call's place in its gateway's schedule."""

    #: the gateway to call through; None = the account's default gateway
    gateway: str | None
    #: seconds from now until the call may go
    wait_s: float
    #: when the call goes, on the backend's clock (µs): a 429 for a call sent before the last
    #: slow-down is old news and does not slow the fleet again
    send_at_us: int
    #: the gateway's cool-down count when reserved; a change while waiting voids the reservation
    epoch: int


class LimiterBackend(Protocol):
    """The shared state: each gateway's schedule and cool-down, and the in-flight slots."""

    def reserve(self) -> Reservation:
        """Book the next call on the gateway that can take it soonest."""
        ...

    def epoch(self, gateway: str | None) -> int:
        """The gateway's cool-down count now (compared with a reservation's after a wait)."""
        ...

    def cool_down(self, gateway: str | None, sent_at_us: int, seconds: float) -> None:
        """The provider refused a call sent at `sent_at_us`: pause the gateway for `seconds`,
        and lower its rate if that call was sent at the current rate."""
        ...

    def take_slot(self, holder: str) -> bool:
        """Hold one in-flight slot as `holder` if one is free."""
        ...

    def wait_for_slot(self, timeout_s: float) -> None:
        """Block until a slot may have been released, or `timeout_s` passes."""
        ...

    def release_slot(self, holder: str) -> None:
        """Give the slot back and wake one waiter."""
        ...

    def renew_slots(self, holders: list[str]) -> None:
        """Extend the leases of slots this process still holds."""
        ...
