"""The Cloudflare client behind the fleet's limiter: every call waits its turn, a 429 cools all.

The pipeline calls `generate(model, spec)` and neither knows nor cares that the call was paced,
which gateway it went through, or that the refusal it may raise has already slowed the whole
fleet. Calls are paced by the limiter of their model's limit scope (`limiter_for`, a worker's
`ModelLimiters.for_model`): models
counted against the same provider limit share one. The client is also where the API's metrics
are recorded: the wait for a permit, the call's latency and the 429s.
"""

import time
from collections.abc import Callable
from typing import Protocol

from jobs.errors import RateLimited
from jobs.models import ModelAdapter, ModelInput
from worker.cloudflare import CallMetadata, Generation
from worker.limiter import Limiter
from worker.metrics import METRICS, WorkerMetrics


class GatewayClient(Protocol):
    """What is limited: `worker.cloudflare.CloudflareClient`, or a test's stand-in."""

    def generate(
        self,
        model: ModelAdapter,
        spec: ModelInput,
        *,
        gateway_id: str | None = None,
        metadata: CallMetadata | None = None,
    ) -> Generation: ...


class LimitedClient:
    """`CloudflareClient.generate`, one permit per call."""

    def __init__(
        self,
        client: GatewayClient,
        limiter_for: Callable[[ModelAdapter], Limiter],
        metrics: WorkerMetrics = METRICS,
    ) -> None:
        self._client = client
        self._limiter_for = limiter_for
        self._metrics = metrics

    def generate(
        self, model: ModelAdapter, spec: ModelInput, *, metadata: CallMetadata
    ) -> Generation:
        limiter = self._limiter_for(model)
        asked = time.monotonic()
        with limiter.permit() as permit:
            sent = time.monotonic()
            self._metrics.limiter_waited(sent - asked)
            try:
                return self._client.generate(
                    model, spec, gateway_id=permit.gateway, metadata=metadata
                )
            except RateLimited as refusal:
                self._metrics.refused_as_rate_limited()
                limiter.rate_limited(permit, refusal.retry_after)
                raise
            finally:
                self._metrics.api_call(time.monotonic() - sent)
