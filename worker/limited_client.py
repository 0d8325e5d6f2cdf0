"""The Cloudflare client behind the fleet's limiter: every call waits its turn, a 429 cools all.

What a refusal means (an over-rate 2009 or a bad token, a rate limit or a stuck gateway) is
judged by `worker.gateway_health` with the fleet's record of the gateway.

The pipeline calls `generate(spec)` and neither knows nor cares that the call was paced, which
gateway it went through, or that the refusal it may raise has already slowed the whole fleet.
The client is also where the API's metrics are recorded: the wait for a permit, the call's
latency and the 429s.
"""

import time
from typing import Protocol

from jobs.errors import JobError, RateLimited
from jobs.models.seedream_4_0 import Seedream40Input
from worker.cloudflare import Generation
from worker.gateway_health import GatewayHealth
from worker.limiter import Limiter
from worker.metrics import METRICS, WorkerMetrics


class GatewayClient(Protocol):
    """What is limited: `worker.cloudflare.CloudflareClient`, or a test's stand-in."""

    def generate(self, spec: Seedream40Input, *, gateway_id: str | None = None) -> Generation: ...


class LimitedClient:
    """`CloudflareClient.generate`, one permit per call."""

    def __init__(
        self,
        client: GatewayClient,
        limiter: Limiter,
        metrics: WorkerMetrics = METRICS,
        health: GatewayHealth | None = None,
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._metrics = metrics
        self._health = health or GatewayHealth(limiter)

    def generate(self, spec: Seedream40Input) -> Generation:
        asked = time.monotonic()
        with self._limiter.permit() as permit:
            sent = time.monotonic()
            self._metrics.limiter_waited(sent - asked)
            try:
                generation = self._client.generate(spec, gateway_id=permit.gateway)
            except JobError as refusal:
                judged = self._health.refused(permit, refusal)
                if isinstance(judged, RateLimited):
                    self._metrics.refused_as_rate_limited()
                if judged is refusal:
                    raise
                raise judged from refusal
            finally:
                self._metrics.api_call(time.monotonic() - sent)
            self._health.succeeded(permit.gateway)
            return generation
