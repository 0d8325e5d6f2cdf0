"""A worker's Prometheus metrics: jobs finished, API latency, limiter waits, 429s, bytes, spend.

The metric objects live here and nowhere else. The places that know the facts record them with
one call each: the limited client (worker.limited_client) the API side, the pipeline
(worker.pipeline) the job side, the reaper (worker.reaper) what workers that died left unsaid.
Counters are per process, as Prometheus expects: it scrapes every worker and sums.
`serve_metrics` starts the `/metrics` endpoint once per process.
"""

import logging
import threading

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, start_http_server

from jobs.errors import ErrorClass
from jobs.states import JobState

#: a Seedream call takes 1-120 s; the emulator answers in milliseconds: buckets for both
API_CALL_BUCKETS_S = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300,
)  # fmt: skip
#: no wait at all when the fleet is under its limit; up to minutes behind a cool-down
LIMITER_WAIT_BUCKETS_S = (
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
)  # fmt: skip
#: the `error_class` label of a job that succeeded
NO_ERROR = ""

log = logging.getLogger(__name__)


class WorkerMetrics:
    """The metrics, registered in `registry` (a test passes a fresh one), and how to record them."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.jobs_finished = Counter(
            "seedream_jobs_finished",
            "Jobs that reached a final state (succeeded, failed, cancelled), by their last error.",
            ["state", "error_class"],
            registry=registry,
        )
        self.attempts_failed = Counter(
            "seedream_attempts_failed",
            "Attempts that failed, retried or not, by error class.",
            ["error_class"],
            registry=registry,
        )
        self.api_call_seconds = Histogram(
            "seedream_api_call_seconds",
            "Time from sending a call to the provider to its answer (or failure).",
            buckets=API_CALL_BUCKETS_S,
            registry=registry,
        )
        self.limiter_wait_seconds = Histogram(
            "seedream_limiter_wait_seconds",
            "Time a call waited for its in-flight slot and its rate-limit turn.",
            buckets=LIMITER_WAIT_BUCKETS_S,
            registry=registry,
        )
        self.rate_limited = Counter(
            "seedream_rate_limited",
            "Calls the provider refused as rate limited (429).",
            registry=registry,
        )
        self.stored_bytes = Counter(
            "seedream_stored_bytes",
            "Bytes of images written to storage.",
            registry=registry,
        )
        self.reused_jobs = Counter(
            "seedream_reused_jobs",
            "Jobs completed by copying an image of the same content address, with no call.",
            registry=registry,
        )
        self.spend_usd = Counter(
            "seedream_spend_usd",
            "USD paid for the images the provider returned (the batch's price per image).",
            registry=registry,
        )

    def job_finished(self, state: JobState, error_class: ErrorClass | None = None) -> None:
        self.jobs_finished.labels(state.value, error_class.value if error_class else NO_ERROR).inc()

    def attempt_failed(self, error_class: ErrorClass) -> None:
        self.attempts_failed.labels(error_class.value).inc()

    def api_call(self, seconds: float) -> None:
        self.api_call_seconds.observe(seconds)

    def limiter_waited(self, seconds: float) -> None:
        self.limiter_wait_seconds.observe(seconds)

    def refused_as_rate_limited(self) -> None:
        self.rate_limited.inc()

    def stored(self, size: int) -> None:
        self.stored_bytes.inc(size)

    def paid(self, usd: float) -> None:
        self.spend_usd.inc(usd)

    def reused(self) -> None:
        self.reused_jobs.inc()


#: the process's metrics, in prometheus_client's default registry (with its process_* metrics)
METRICS = WorkerMetrics()

_serving = False
_serving_lock = threading.Lock()


def serve_metrics(port: int, host: str) -> None:
    """Serve `/metrics` on `host:port` from a daemon thread; once per process, however often
    called (an embedded `run` may start several workers in one process)."""
    global _serving
    with _serving_lock:
        if _serving:
            return
        start_http_server(port, addr=host, registry=REGISTRY)
        _serving = True
    log.info("metrics at http://%s:%s/metrics", host, port)
