"""One job, start to finish: claim → call → record generated → fetch → verify → store → record.

Every step is written to the results table before the next begins, so a crash anywhere resumes
at the right step: before `generated` the API is called again, after it only the upload is redone
(from the provider's URL, or the inline bytes kept on the row, checked to be an image before they
are kept). The image waits in a spool (worker.spool) from download to upload, closed whatever
happens. While the job runs its lease is renewed (worker.lease_keeper); a failure leaves the job
with a due time for its retry, which the reaper (worker.reaper) turns into a message when it
comes. What it learns about a job (how it ended, what was paid, what was stored) is also counted
in the worker's metrics (worker.metrics).
"""

import hashlib
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from config.settings import Settings
from jobs.backoff import retry_delay
from jobs.errors import JobError
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.results import Claim, ResultsTable, StoredImage
from jobs.states import JobState
from worker.cloudflare import Generation
from worker.identity import lease_owner
from worker.image_fetch import fetch_image
from worker.images import inspect_image
from worker.lease_keeper import LeaseKeeper
from worker.metrics import METRICS, WorkerMetrics
from worker.spool import ImageFile, open_spool
from worker.storage import Storage, object_key
from worker.unexpected_errors import unexpected_error

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one delivery of a job message."""

    #: the state the job was left in; None when the message found nothing to do
    state: JobState | None
    #: seconds until the job is due again, when it is waiting for a retry
    retry_in: float | None = None


class JobPipeline:
    """Runs jobs; shared by all worker threads of a process (its clients are thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        table: ResultsTable,
        client: "ImageGenerator",
        fetch_http: httpx.Client,
        storage_for: Callable[[str], Storage],
        metrics: WorkerMetrics = METRICS,
    ) -> None:
        self.settings = settings
        self.table = table
        self.client = client
        self.fetch_http = fetch_http
        self.storage_for = storage_for
        self.metrics = metrics
        self.leases = LeaseKeeper(table, settings.lease_seconds)

    def run(self, job_id: int) -> Outcome:
        owner = lease_owner()
        claim = self.table.claim(job_id, owner, self.settings.lease_seconds)
        if claim is None:
            log.info("job %s: final, held, not due or its batch is not running; nothing to do",
                     job_id)  # fmt: skip
            return Outcome(None)
        with self.leases.holding(job_id):
            try:
                self._finish(claim, owner)
            except JobError as error:
                return self._failed(claim, owner, error)
            except Exception as exc:  # a lost connection (retried) or a bug (failed at once)
                unexpected = unexpected_error(exc)
                # the traceback is what fixes a bug; the log's redaction masks any secret in it
                log.exception("job %s (%s) attempt %s: unexpected error: %s", job_id, claim.key,
                              claim.attempt, unexpected.message)  # fmt: skip
                return self._failed(claim, owner, unexpected)
        self.metrics.job_finished(JobState.succeeded)
        return Outcome(JobState.succeeded)

    def _failed(self, claim: Claim, owner: str, error: JobError) -> Outcome:
        settings = self.settings
        retry_in = retry_delay(
            claim.counted_attempts,
            error.retry_after,
            base_s=settings.retry_base_seconds,
            max_s=settings.retry_max_seconds,
        )
        decision = self.table.record_failure(claim, owner, error, settings.max_attempts, retry_in)
        state = decision.state
        self.metrics.attempt_failed(error.error_class)
        if state.terminal:
            self.metrics.job_finished(state, error.error_class)
        log.warning(
            "job %s (%s) attempt %s: %s: %s -> %s",
            claim.job_id,
            claim.key,
            claim.attempt,
            error.error_class,
            error.message,
            state,
        )
        return Outcome(state, decision.retry_in)

    def _finish(self, claim: Claim, owner: str) -> None:
        started = time.monotonic()
        if claim.paid_for:
            generation = Generation(url=claim.provider_url, data=claim.inline_image)
        else:
            generation = self.client.generate(claim.spec)
            self.metrics.paid(claim.batch.price_per_image)
            if generation.data is not None:
                # checked before the row keeps it: a job failed as bad_image holds no bytes
                inspect_image(io.BytesIO(generation.data))
            self.table.record_generated(
                claim,
                owner,
                provider_url=generation.url,
                inline_image=generation.data,
                api_ms=_ms_since(started),
            )
        fetched = time.monotonic()
        with open_spool(self.settings.spool_memory_bytes) as image:
            self._download(generation, image)
            self._store(claim, owner, image, _ms_since(fetched))

    def _download(self, generation: Generation, into: ImageFile) -> None:
        """Spool the generated image: fetched from its URL, or its inline bytes written as is."""
        if generation.data is not None:
            into.write(generation.data)
            return
        assert generation.url is not None, "a generation carries a URL or the bytes"
        fetch_image(
            self.fetch_http,
            generation.url,
            into,
            max_bytes=self.settings.max_image_bytes,
            timeout=self.settings.fetch_timeout_seconds,
        )

    def _store(self, claim: Claim, owner: str, image: ImageFile, fetch_ms: int) -> None:
        """Check the spooled image, upload it and record the job succeeded."""
        facts = inspect_image(image)
        stored_at = time.monotonic()
        uri = self.storage_for(claim.batch.output).put(
            object_key(claim.batch.id, claim.key, facts.extension),
            image,
            facts.content_type,
            {
                "job-id": str(claim.job_id),
                "batch": claim.batch.id,
                "prompt-sha256": hashlib.sha256(claim.spec.prompt.encode()).hexdigest(),
            },
        )
        self.metrics.stored(facts.size)
        self.table.record_succeeded(
            claim,
            owner,
            StoredImage(
                output_uri=uri,
                size=facts.size,
                sha256=facts.sha256,
                width=facts.width,
                height=facts.height,
                fetch_ms=fetch_ms,
                store_ms=_ms_since(stored_at),
            ),
        )


class ImageGenerator(Protocol):
    """What makes the image: `worker.limited_client.LimitedClient` (the API behind the fleet's
    limiter), or a test's stand-in."""

    def generate(self, spec: Seedream40Input) -> Generation: ...


def _ms_since(start: float) -> int:
    return round((time.monotonic() - start) * 1000)
