"""One job, start to finish: claim → call → record generated → fetch → verify → store → record.

A job whose image was paid for already (the same content address, stored) is completed by copying
it instead (worker.reuse), with no call.

Every step is written to the results table before the next begins, so a crash anywhere resumes
at the right step: before `generated` the API is called again, after it only the upload is redone
(from the provider's URLs, or the inline bytes kept on the row, checked to be an image before they
are kept). A call may return several images (Seedream 4.5): each is billed, fetched and stored,
under `{batch}/{key}/{n}.{ext}` when the job's input may return more than one. A call paid for
is recorded as paid whatever happens next, so spend counts every paid call. Each image waits in
a spool (worker.spool) from download to upload, closed whatever happens. While the job runs its
lease is renewed (worker.lease_keeper); a failure leaves the job with a due time for its retry,
which the reaper (worker.reaper) turns into a message when it comes. What it learns about a job
(how it ended, what was paid, what was stored) is also counted in the worker's metrics
(worker.metrics).
"""

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import httpx

from config.settings import Settings
from jobs.backoff import retry_delay
from jobs.errors import BadImage, JobError
from jobs.models import ModelAdapter, ModelInput
from jobs.records import PaidCall, StoredImage, StoredOutput
from jobs.results import Claim, ResultsTable
from jobs.states import JobState
from worker.cloudflare import CallMetadata, Generation, ProviderImage
from worker.identity import lease_owner
from worker.image_fetch import fetch_image
from worker.images import inspect_image
from worker.lease_keeper import LeaseKeeper
from worker.metrics import METRICS, WorkerMetrics
from worker.object_metadata import object_metadata
from worker.reuse import ImageReuse
from worker.spool import ImageFile, open_spool
from worker.storage import Storage, object_key
from worker.unexpected_errors import unexpected_error

log = logging.getLogger(__name__)


class _PaidThenFailed(Exception):
    """The call was paid for, then its answer failed a check before it could be kept: the error
    is recorded with the call, so its cost is not lost."""

    def __init__(self, error: JobError, call: PaidCall) -> None:
        super().__init__(error.message)
        self.error = error
        self.call = call


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
        self.reuse = ImageReuse(table, storage_for)

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
            except _PaidThenFailed as failure:
                return self._failed(claim, owner, failure.error, failure.call)
            except Exception as exc:  # a lost connection (retried) or a bug (failed at once)
                unexpected = unexpected_error(exc)
                # the traceback is what fixes a bug; the log's redaction masks any secret in it
                log.exception("job %s (%s) attempt %s: unexpected error: %s", job_id, claim.key,
                              claim.attempt, unexpected.message)  # fmt: skip
                return self._failed(claim, owner, unexpected)
        self.metrics.job_finished(JobState.succeeded)
        return Outcome(JobState.succeeded)

    def _failed(
        self, claim: Claim, owner: str, error: JobError, call: PaidCall | None = None
    ) -> Outcome:
        settings = self.settings
        retry_in = retry_delay(
            claim.counted_attempts,
            error.retry_after,
            base_s=settings.retry_base_seconds,
            max_s=settings.retry_max_seconds,
        )
        decision = self.table.record_failure(
            claim, owner, error, settings.max_attempts, retry_in, call=call
        )
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
        if claim.paid_for:
            generation = _kept_generation(claim)
        elif self.reuse.copied(claim, owner):
            self.metrics.reused()
            return
        else:
            generation = self._generate(claim, owner)
        several = claim.model.most_images(claim.spec) > 1
        stored: list[StoredImage] = []
        fetch_ms = store_ms = 0
        for n, provided in enumerate(generation.images):
            fetched = time.monotonic()
            with open_spool(self.settings.spool_memory_bytes) as image:
                self._download(provided, image)
                stored_at = time.monotonic()
                key = f"{claim.key}/{n}" if several else claim.key
                stored.append(self._store(claim, key, image))
            fetch_ms += _ms_between(fetched, stored_at)
            store_ms += _ms_since(stored_at)
        self.table.record_succeeded(claim, owner, StoredOutput(tuple(stored), fetch_ms, store_ms))
        self.reuse.paid(claim)

    def _generate(self, claim: Claim, owner: str) -> Generation:
        """Call the batch's model and record the images as `generated`: paid for, from here on
        never called for again. Inline bytes are checked to be an image before the row keeps
        them; a check that fails after the call is recorded with the call, so its cost counts."""
        started = time.monotonic()
        generation = self.client.generate(claim.model, claim.spec, metadata=_call_metadata(claim))
        call = PaidCall(len(generation.images), generation.log_id, generation.request_id)
        self.metrics.paid(call.images * claim.batch.price_per_image)
        inline = [image.data for image in generation.images if image.data is not None]
        try:
            if inline and len(generation.images) > 1:
                raise BadImage(
                    f"the answer holds {len(generation.images)} images, some inline: only a "
                    "single inline image can be kept until it is stored"
                )
            if inline:
                # checked before the row keeps it: a job failed as bad_image holds no bytes
                inspect_image(io.BytesIO(inline[0]))
        except JobError as error:
            raise _PaidThenFailed(error, call) from None
        self.table.record_generated(
            claim,
            owner,
            provider_urls=[image.url for image in generation.images if image.url is not None],
            inline_image=inline[0] if inline else None,
            api_ms=_ms_since(started),
            call=call,
        )
        return generation

    def _download(self, provided: ProviderImage, into: ImageFile) -> None:
        """Spool a generated image: fetched from its URL, or its inline bytes written as is."""
        if provided.data is not None:
            into.write(provided.data)
            return
        assert provided.url is not None, "an image is a URL or the bytes"
        fetch_image(
            self.fetch_http,
            provided.url,
            into,
            max_bytes=self.settings.max_image_bytes,
            timeout=self.settings.fetch_timeout_seconds,
        )

    def _store(self, claim: Claim, key: str, image: ImageFile) -> StoredImage:
        """Check the spooled image and upload it under `key` in the batch's output."""
        facts = inspect_image(image)
        uri = self.storage_for(claim.batch.output).put(
            object_key(claim.batch.id, key, facts.extension),
            image,
            facts.content_type,
            object_metadata(claim),
        )
        self.metrics.stored(facts.size)
        return StoredImage(uri, facts.size, facts.sha256, facts.width, facts.height)


class ImageGenerator(Protocol):
    """What makes the images: `worker.limited_client.LimitedClient` (the API behind the fleet's
    limiter), or a test's stand-in."""

    def generate(
        self, model: ModelAdapter, spec: ModelInput, *, metadata: CallMetadata
    ) -> Generation: ...


def _kept_generation(claim: Claim) -> Generation:
    """The images a claim's job was already paid for, as the row keeps them."""
    if claim.inline_image is not None:
        return Generation((ProviderImage(data=claim.inline_image),))
    return Generation(tuple(ProviderImage(url=url) for url in claim.provider_urls))


def _call_metadata(claim: Claim) -> CallMetadata:
    """What AI Gateway logs with the call, so its logs and spend tie back to the job."""
    return {
        "batch": claim.batch.id,
        "key": claim.key,
        "job": claim.job_id,
        "attempt": claim.attempt,
    }


def _ms_between(start: float, end: float) -> int:
    return round((end - start) * 1000)


def _ms_since(start: float) -> int:
    return _ms_between(start, time.monotonic())
