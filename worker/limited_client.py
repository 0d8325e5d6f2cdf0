"""The Cloudflare client behind the fleet's limiter: every call waits its turn, a 429 cools all.

The pipeline calls `generate(spec)` and neither knows nor cares that the call was paced, which
gateway it went through, or that the refusal it may raise has already slowed the whole fleet.
The client is also where the API's metrics are recorded: the wait for a permit, the call's
latency and the 429s.
"""

import time
from typing import Protocol

from jobs.errors import RateLimited
from jobs.models.seedream_4_0 import Seedream40Input
from worker.cloudflare import Generation
from worker.limiter import Limiter
from worker.metrics import METRICS, WorkerMetrics


class GatewayClient(Protocol):
    """What is limited: `worker.cloudflare.CloudflareClient`, or a test's stand-in."""

    def generate(self, spec: Seedream40Input, *, gateway_id: str | None = None) -> Generation: ...


class LimitedClient:
    """`CloudflareClient.generate`, one permit per call."""

    def __init__(
        self, client: GatewayClient, limiter: Limiter, metrics: WorkerMetrics = METRICS
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._metrics = metrics

    def generate(self, spec: Seedream40Input) -> Generation:
        asked = time.monotonic()
        with self._limiter.permit() as permit:
            sent = time.monotonic()
            self._metrics.limiter_waited(sent - asked)
            try:
                return self._client.generate(spec, gateway_id=permit.gateway)
            except RateLimited as refusal:
                self._metrics.refused_as_rate_limited()
                self._limiter.rate_limited(permit, refusal.retry_after)
                raise
            finally:
                self._metrics.api_call(time.monotonic() - sent)
