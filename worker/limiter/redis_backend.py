"""The fleet's limiter state in Redis: every worker on every host paces by the same schedule.

Keys are named by account and model (`jobs.redis_keys.limiter_namespace`), so fleets of several
accounts or models can share one Redis without sharing a limit.
"""

import itertools
import logging
from collections.abc import Callable

import redis

from jobs import redis_keys
from worker.limiter import redis_scripts
from worker.limiter.backend import GatewayRecord, Reservation
from worker.limiter.pacing import DECREASE_FACTOR, MICROS, MIN_RATE_FACTOR, Pacing

log = logging.getLogger(__name__)


class RedisBackend:
    """Limiter state shared through one Redis; safe to use from many threads and processes."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        namespace: str,
        gateways: tuple[str | None, ...],
        pacing: Pacing,
        max_in_flight: int | None,
        lease_s: float,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """`clock` (seconds) replaces Redis' own for every schedule and lease: the tests run
        this backend and the in-process one on the same fake clock. None = Redis' `TIME`."""
        self._redis = client
        self._gateways = gateways
        self._gateway_keys = [redis_keys.limiter_gateway(namespace, g) for g in gateways]
        self._slots_key = redis_keys.limiter_in_flight(namespace)
        self._wakeups_key = redis_keys.limiter_in_flight_released(namespace)
        self._pacing = pacing
        self._max_in_flight = max_in_flight or 0
        self._lease_us = round(lease_s * MICROS)
        self._first_gateway = itertools.cycle(range(len(gateways))).__next__
        self._reserve = client.register_script(redis_scripts.RESERVE)
        self._cool_down = client.register_script(redis_scripts.COOL_DOWN)
        self._note_success = client.register_script(redis_scripts.NOTE_SUCCESS)
        self._note_refusal = client.register_script(redis_scripts.NOTE_REFUSAL)
        self._take = client.register_script(redis_scripts.TAKE_SLOT)
        self._release = client.register_script(redis_scripts.RELEASE_SLOT)
        self._renew = client.register_script(redis_scripts.RENEW_SLOTS)
        self._clock = clock

    def reserve(self) -> Reservation:
        pacing = self._pacing
        index, wait_us, send_at_us, epoch = self._reserve(
            keys=self._gateway_keys,
            args=[
                self._now_us(),
                pacing.interval_us,
                pacing.burst,
                pacing.recovery_per_us,
                pacing.state_ttl_ms,
                self._first_gateway(),
            ],
        )
        return Reservation(self._gateways[index - 1], wait_us / MICROS, send_at_us, epoch)

    def epoch(self, gateway: str | None) -> int:
        return int(self._redis.hget(self._key_of(gateway), "epoch") or 0)

    def cool_down(
        self, gateway: str | None, sent_at_us: int, seconds: float, *, lowers: bool = True
    ) -> None:
        pacing = self._pacing
        self._cool_down(
            keys=[self._key_of(gateway)],
            args=[
                self._now_us(),
                sent_at_us,
                round(seconds * MICROS),
                DECREASE_FACTOR,
                MIN_RATE_FACTOR,
                pacing.recovery_per_us,
                pacing.state_ttl_ms,
                pacing.window_us,
                1 if lowers else 0,
            ],
        )

    def note_success(self, gateway: str | None) -> None:
        """Best effort: it is written after an image was paid for, so Redis going away here
        must not lose that image; a missed note costs nothing, the next one comes a second
        later."""
        try:
            self._note_success(
                keys=[self._key_of(gateway)], args=[self._now_us(), self._pacing.state_ttl_ms]
            )
        except redis.RedisError as exc:
            log.warning("could not note a success of gateway %s: %s", gateway, type(exc).__name__)

    def note_refusal(self, gateway: str | None) -> GatewayRecord:
        now_us, succeeded_at_us, refused_since_us = self._note_refusal(
            keys=[self._key_of(gateway)], args=[self._now_us(), self._pacing.state_ttl_ms]
        )
        return GatewayRecord(int(now_us), int(succeeded_at_us), int(refused_since_us))

    def take_slot(self, holder: str) -> bool:
        return bool(
            self._take(
                keys=[self._slots_key],
                args=[self._now_us(), holder, self._max_in_flight, self._lease_us],
            )
        )

    def wait_for_slot(self, timeout_s: float) -> None:
        self._redis.blpop([self._wakeups_key], timeout=timeout_s)

    def release_slot(self, holder: str) -> None:
        self._release(
            keys=[self._slots_key, self._wakeups_key],
            args=[holder, self._max_in_flight, self._lease_us],
        )

    def renew_slots(self, holders: list[str]) -> None:
        if holders:
            self._renew(keys=[self._slots_key], args=[self._now_us(), self._lease_us, *holders])

    def _now_us(self) -> int | str:
        """The time the scripts go by: the injected clock's, or empty for Redis' own."""
        return "" if self._clock is None else round(self._clock() * MICROS)

    def _key_of(self, gateway: str | None) -> str:
        return self._gateway_keys[self._gateways.index(gateway)]
