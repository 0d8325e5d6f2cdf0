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


@dataclass(frozen=True)
class GatewayRecord:
    """What the fleet knows of a gateway's health when one of its calls is refused (µs, on the
    backend's clock): `worker.gateway_health` judges the refusal by it."""

    now_us: int
    #: the last success any worker noted; 0 = none while the state lived
    succeeded_at_us: int
    #: when the current streak of refusals with no success between began (this refusal's time
    #: when it starts one)
    refused_since_us: int


class LimiterBackend(Protocol):
    """The shared state: each gateway's schedule and cool-down, and the in-flight slots."""

    def reserve(self) -> Reservation:
        """Book the next call on the gateway that can take it soonest."""
        ...

    def epoch(self, gateway: str | None) -> int:
        """The gateway's cool-down count now (compared with a reservation's after a wait)."""
        ...

    def cool_down(
        self, gateway: str | None, sent_at_us: int, seconds: float, *, lowers: bool = True
    ) -> None:
        """The provider refused a call sent at `sent_at_us`: pause the gateway for `seconds`,
        and lower its rate if refusals repeat within one window (and `lowers`: a capacity
        refusal is the provider's, not about our rate) and that call went at the current rate."""
        ...

    def note_success(self, gateway: str | None) -> None:
        """A call through the gateway succeeded: record when, and end any refusal streak."""
        ...

    def note_refusal(self, gateway: str | None) -> GatewayRecord:
        """A call through the gateway was refused: start a refusal streak unless one runs."""
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
