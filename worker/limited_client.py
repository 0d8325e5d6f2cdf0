"""The Cloudflare client behind the fleet's limiter: every call waits its turn, a 429 cools all.

The pipeline calls `generate(model, spec)` and neither knows nor cares that the call was paced,
which gateway it went through, or that the refusal it may raise has already slowed the whole
fleet. Calls are paced by the limiter of their model's limit scope (`limiter_for`, a worker's
`ModelLimiters.for_model`): models counted against the same provider limit share one. What a
refusal means (an over-rate 2009 or a bad token, a rate limit or a stuck gateway) is judged by
`worker.gateway_health` with the fleet's record of the gateway. The client is also where the
API's metrics are recorded: the wait for a permit, the call's latency and the 429s.
"""

import threading
import time
from collections.abc import Callable
from typing import Protocol

from jobs.errors import JobError, RateLimited
from jobs.models import ModelAdapter, ModelInput
from worker.cloudflare import CallMetadata, Generation
from worker.gateway_health import GatewayHealth, Thresholds
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
        thresholds: Thresholds | None = None,
    ) -> None:
        self._client = client
        self._limiter_for = limiter_for
        self._metrics = metrics
        #: how long refusals may last before they pause (None: windows of the limit)
        self._thresholds = thresholds
        self._healths: dict[str, GatewayHealth] = {}
        self._lock = threading.Lock()

    def generate(
        self, model: ModelAdapter, spec: ModelInput, *, metadata: CallMetadata
    ) -> Generation:
        limiter = self._limiter_for(model)
        health = self._health(model, limiter)
        asked = time.monotonic()
        with limiter.permit() as permit:
            sent = time.monotonic()
            self._metrics.limiter_waited(sent - asked)
            try:
                generation = self._client.generate(
                    model, spec, gateway_id=permit.gateway, metadata=metadata
                )
            except JobError as refusal:
                judged = health.refused(permit, refusal)
                if isinstance(judged, RateLimited):
                    self._metrics.refused_as_rate_limited()
                if judged is refusal:
                    raise
                raise judged from refusal
            finally:
                self._metrics.api_call(time.monotonic() - sent)
            health.succeeded(permit.gateway)
            return generation

    def _health(self, model: ModelAdapter, limiter: Limiter) -> GatewayHealth:
        """The judge of refusals for the model's limit scope, one per scope like its limiter."""
        with self._lock:
            health = self._healths.get(model.limit_scope)
            if health is None:
                health = GatewayHealth(limiter, self._thresholds)
                self._healths[model.limit_scope] = health
            return health
