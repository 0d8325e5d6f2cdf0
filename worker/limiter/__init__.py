"""The fleet-wide rate limit and in-flight cap (DESIGN §6), in Redis or, embedded, in process."""

import redis

from config.settings import Settings
from jobs.redis_keys import limiter_namespace
from worker.limiter.backend import LimiterBackend
from worker.limiter.limiter import Limiter, Permit
from worker.limiter.local_backend import LocalBackend
from worker.limiter.pacing import MICROS, Pacing
from worker.limiter.redis_backend import RedisBackend

__all__ = ["Limiter", "Permit", "open_limiter"]


def open_limiter(settings: Settings) -> Limiter:
    """The limiter the settings describe: shared through Redis for a fleet, in process embedded.

    The Redis state is keyed by account and model, the scope Cloudflare limits by.
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
            namespace=limiter_namespace(settings.account_id, settings.model),
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
