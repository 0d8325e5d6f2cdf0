"""The limiter's state in this process, for embedded mode: the same schedule, kept under a lock.

It paces exactly as the Redis scripts do (`worker.limiter.redis_scripts`), so `run` on a laptop
and a fleet on Redis send at the same rate; only the store differs. Times are whole microseconds,
rounded where the scripts round them (Redis keeps integers), so the two schedules agree to the
microsecond: tests/unit/test_limiter_backends.py holds both to the same numbers. Slots need no
leases here: a thread cannot die without its process.
"""

import itertools
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from worker.limiter.backend import GatewayRecord, Reservation
from worker.limiter.pacing import DECREASE_FACTOR, MICROS, MIN_RATE_FACTOR, Pacing


@dataclass
class _GatewayState:
    tat: int = 0
    factor: float = 1.0
    factor_at: int = 0
    cool_until: int = 0
    decreased_at: int = 0
    refused_at: int = 0
    repeats: int = 0
    epoch: int = 0
    succeeded_at: int = 0
    refused_since: int = 0

    def current_factor(self, now: int, recovery_per_us: float) -> float:
        if now > self.factor_at:
            return min(1.0, self.factor + (now - self.factor_at) * recovery_per_us)
        return self.factor


class LocalBackend:
    """Limiter state for the threads of one process."""

    def __init__(
        self,
        *,
        gateways: tuple[str | None, ...],
        pacing: Pacing,
        max_in_flight: int | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gateways = gateways
        self._states = {gateway: _GatewayState() for gateway in gateways}
        self._first_gateway = itertools.cycle(range(len(gateways))).__next__
        self._pacing = pacing
        self._max_in_flight = max_in_flight
        self._clock = clock
        self._lock = threading.Lock()
        self._slot_freed = threading.Condition(self._lock)
        self._holders: set[str] = set()

    def _now_us(self) -> int:
        return round(self._clock() * MICROS)

    def reserve(self) -> Reservation:
        pacing = self._pacing
        with self._lock:
            now = self._now_us()
            best: tuple[float, float, str | None] | None = None
            first = self._first_gateway()
            for gateway in self._gateways[first:] + self._gateways[:first]:
                state = self._states[gateway]
                step = pacing.interval_us / state.current_factor(now, pacing.recovery_per_us)
                tat = max(state.tat, now)
                send = max(now, tat - (pacing.burst - 1) * step, state.cool_until)
                if best is None or send < best[0]:
                    best = (send, tat + step, gateway)
            assert best is not None, "a limiter has at least one gateway"
            send, next_tat, gateway = best
            state = self._states[gateway]
            state.tat = math.floor(next_tat)
            send_us = math.floor(send)
            return Reservation(gateway, (send_us - now) / MICROS, send_us, state.epoch)

    def epoch(self, gateway: str | None) -> int:
        with self._lock:
            return self._states[gateway].epoch

    def cool_down(
        self, gateway: str | None, sent_at_us: int, seconds: float, *, lowers: bool = True
    ) -> None:
        with self._lock:
            now = self._now_us()
            state = self._states[gateway]
            window = self._pacing.window_us
            cool = round(seconds * MICROS)
            decreases = False
            if lowers and sent_at_us > state.refused_at:
                repeated = state.refused_at > 0 and now - state.refused_at <= window
                state.repeats = state.repeats + 1 if repeated else 0
                settled = state.decreased_at == 0 or now - state.decreased_at >= window
                decreases = repeated and settled and sent_at_us > state.decreased_at
                state.refused_at = now
                cool = min(cool * 2**state.repeats, max(cool, window))
            changed = decreases
            if now + cool > state.cool_until:
                state.cool_until = now + cool
                changed = True
            if decreases:
                factor = state.current_factor(now, self._pacing.recovery_per_us)
                state.factor = max(MIN_RATE_FACTOR, factor * DECREASE_FACTOR)
                state.factor_at = state.cool_until
                state.decreased_at = now
            if changed:
                state.tat = state.cool_until
                state.epoch += 1

    def note_success(self, gateway: str | None) -> None:
        with self._lock:
            state = self._states[gateway]
            state.succeeded_at = self._now_us()
            state.refused_since = 0

    def note_refusal(self, gateway: str | None) -> GatewayRecord:
        with self._lock:
            now = self._now_us()
            state = self._states[gateway]
            if state.refused_since == 0:
                state.refused_since = now
            return GatewayRecord(now, state.succeeded_at, state.refused_since)

    def take_slot(self, holder: str) -> bool:
        with self._lock:
            if not self._a_slot_is_free():
                return False
            self._holders.add(holder)
            return True

    def wait_for_slot(self, timeout_s: float) -> None:
        with self._slot_freed:
            self._slot_freed.wait_for(self._a_slot_is_free, timeout_s)

    def _a_slot_is_free(self) -> bool:
        return self._max_in_flight is None or len(self._holders) < self._max_in_flight

    def release_slot(self, holder: str) -> None:
        with self._slot_freed:
            self._holders.discard(holder)
            self._slot_freed.notify()

    def renew_slots(self, holders: list[str]) -> None:
        """Nothing to renew: slots held in process cannot outlive their holder."""
