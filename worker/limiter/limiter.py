"""The one way a worker thread gets permission to call the API: a slot in flight, then a turn.

`with limiter.permit() as permit:` blocks until the call may go, then yields which gateway to use.
Waiting is never a polling loop: a turn comes with its exact time, and the thread sleeps that
long; a slot comes with a wake-up when another is released (with a short timeout as the backstop
for slots whose holder died). A 429 reported through `rate_limited` cools the whole fleet down.
"""

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from worker.identity import lease_owner
from worker.limiter.backend import GatewayRecord, LimiterBackend
from worker.limiter.pacing import DEFAULT_COOL_DOWN_S, UNLIMITED_WINDOW_S
from worker.periodic import PeriodicThread

#: the longest a thread waits for a released slot's wake-up before it looks again (a slot whose
#: holder was killed frees by expiry, which wakes nobody)
SLOT_WAIT_S = 1.0


@dataclass(frozen=True)
class Permit:
    """Leave to make one call now."""

    #: the gateway to send it through; None = the account's default gateway
    gateway: str | None
    #: when it went, on the backend's clock
    sent_at_us: int


class Limiter:
    """Paces calls and shares cool-downs (always) and caps calls in flight (when `capped`).

    Without a rate limit the pace is zero: calls go at once, but a 429 still cools the fleet down.
    """

    def __init__(
        self,
        backend: LimiterBackend,
        *,
        capped: bool,
        lease_s: float,
        window_s: float = UNLIMITED_WINDOW_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """`window_s` is the limit's window: what `worker.gateway_health` measures a gateway's
        silence and refusal streaks in."""
        self._backend = backend
        self.window_s = window_s
        self._capped = capped
        self._sleep = sleep
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._renewer = (
            PeriodicThread("in-flight-lease-renewer", lease_s / 3, self.renew) if capped else None
        )

    @contextmanager
    def permit(self) -> Iterator[Permit]:
        """Block until a call may go; the slot (if capped) is held until the block ends."""
        holder = self._take_slot() if self._capped else None
        try:
            yield self._turn()
        finally:
            if holder is not None:
                self._release_slot(holder)

    def rate_limited(
        self, permit: Permit, retry_after: float | None, *, lowers: bool = True
    ) -> None:
        """The provider refused `permit`'s call with a 429: cool the gateway down, fleet-wide,
        and lower its rate if refusals repeat (`lowers` False: never, the provider is full)."""
        seconds = retry_after if retry_after is not None else DEFAULT_COOL_DOWN_S
        self._backend.cool_down(permit.gateway, permit.sent_at_us, seconds, lowers=lowers)

    def note_success(self, gateway: str | None) -> None:
        """A call through `gateway` succeeded (fleet-wide record; callers throttle it)."""
        self._backend.note_success(gateway)

    def note_refusal(self, gateway: str | None) -> GatewayRecord:
        """A call through `gateway` was refused: the fleet's record of it, streak included."""
        return self._backend.note_refusal(gateway)

    def held_slots(self) -> list[str]:
        """The slots this process holds now (renewed so they do not expire under live calls)."""
        with self._held_lock:
            return list(self._held)

    def _turn(self) -> Permit:
        while True:
            reservation = self._backend.reserve()
            if reservation.wait_s <= 0:
                return Permit(reservation.gateway, reservation.send_at_us)
            self._sleep(reservation.wait_s)
            # a cool-down that began while we slept voids the turn: book a new one after it
            if self._backend.epoch(reservation.gateway) == reservation.epoch:
                return Permit(reservation.gateway, reservation.send_at_us)

    def _take_slot(self) -> str:
        holder = f"{lease_owner()}:{secrets.token_hex(4)}"
        while not self._backend.take_slot(holder):
            self._backend.wait_for_slot(SLOT_WAIT_S)
        with self._held_lock:
            self._held.add(holder)
        assert self._renewer is not None
        self._renewer.ensure_running()
        return holder

    def _release_slot(self, holder: str) -> None:
        with self._held_lock:
            self._held.discard(holder)
        self._backend.release_slot(holder)

    def renew(self) -> None:
        """Extend the leases of the slots held now (called by the renewer thread)."""
        self._backend.renew_slots(self.held_slots())
