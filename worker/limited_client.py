"""The Cloudflare client behind the fleet's limiter: every call waits its turn, a 429 cools all.

The pipeline calls `generate(spec)` and neither knows nor cares that the call was paced, which
gateway it went through, or that the refusal it may raise has already slowed the whole fleet.
"""

from typing import Protocol

from jobs.errors import RateLimited
from jobs.spec import ImageInput
from worker.cloudflare import Generation
from worker.limiter import Limiter


class GatewayClient(Protocol):
    """What is limited: `worker.cloudflare.CloudflareClient`, or a test's stand-in."""

    def generate(self, spec: ImageInput, *, gateway_id: str | None = None) -> Generation: ...


class LimitedClient:
    """`CloudflareClient.generate`, one permit per call."""

    def __init__(self, client: GatewayClient, limiter: Limiter) -> None:
        self._client = client
        self._limiter = limiter

    def generate(self, spec: ImageInput) -> Generation:
        with self._limiter.permit() as permit:
            try:
                return self._client.generate(spec, gateway_id=permit.gateway)
            except RateLimited as refusal:
                self._limiter.rate_limited(permit, refusal.retry_after)
                raise
