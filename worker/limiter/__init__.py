"""The fleet-wide rate limit and in-flight cap (DESIGN §6), in Redis or, embedded, in process."""

import threading

import redis

from config.settings import Settings
from jobs.models import ModelAdapter
from jobs.redis_keys import limiter_namespace
from worker.limiter.backend import LimiterBackend
from worker.limiter.limiter import Limiter, Permit
from worker.limiter.local_backend import LocalBackend
from worker.limiter.pacing import MICROS, Pacing
from worker.limiter.redis_backend import RedisBackend

__all__ = ["Limiter", "ModelLimiters", "Permit", "open_limiter"]


class ModelLimiters:
    """One limiter per limit scope (`ModelAdapter.limit_scope`), made on first use: a batch's
    calls are paced by its model's scope, and models that count against the same provider limit
    (every partner model against its gateway's) share one limiter."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._limiters: dict[str, Limiter] = {}
        self._lock = threading.Lock()

    def for_model(self, model: ModelAdapter) -> Limiter:
        with self._lock:
            limiter = self._limiters.get(model.limit_scope)
            if limiter is None:
                limiter = open_limiter(self._settings, model.limit_scope)
                self._limiters[model.limit_scope] = limiter
            return limiter


def open_limiter(settings: Settings, scope: str) -> Limiter:
    """The limiter the settings describe: shared through Redis for a fleet, in process embedded.

    The Redis state is keyed by account and limit scope, what Cloudflare limits by.
    """
    gateways: tuple[str | None, ...] = settings.gateway_ids or (None,)
    pacing = Pacing.for_limit(settings.rate_limit, settings.rate_burst)
    url = settings.fleet_limiter_url()
    backend: LimiterBackend
    if url is None:
        backend = LocalBackend(
            gateways=gateways, pacing=pacing, max_in_flight=settings.max_in_flight
        )
    else:
        backend = RedisBackend(
            redis.Redis.from_url(url),
            namespace=limiter_namespace(settings.account_id, scope),
            gateways=gateways,
            pacing=pacing,
            max_in_flight=settings.max_in_flight,
            lease_s=settings.in_flight_lease_seconds,
        )
    return Limiter(
        backend,
        capped=settings.max_in_flight is not None,
        lease_s=settings.in_flight_lease_seconds,
        window_s=pacing.window_us / MICROS,
    )
