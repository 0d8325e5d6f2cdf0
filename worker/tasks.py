"""The Celery task: a thin shell around JobPipeline, which holds the logic.

The message carries only the job id; everything else is read from the results table, so a
message delivered twice, late, or after a resume is harmless.
"""

import threading
from collections.abc import Sequence

import httpx

from config.settings import get_settings
from jobs.database import open_engine
from jobs.results import ResultsTable
from worker.app import app
from worker.cloudflare import CloudflareClient
from worker.pipeline import JobPipeline, StorageLookup

_pipeline: JobPipeline | None = None
_pipeline_lock = threading.Lock()


def get_pipeline() -> JobPipeline:
    """The process's pipeline, built on first use and shared by all its worker threads."""
    global _pipeline
    with _pipeline_lock:
        if _pipeline is None:
            settings = get_settings()
            threads = settings.concurrency
            table = ResultsTable(open_engine(settings.database_url))
            table.create_schema()
            # one connection per worker thread, for the API and for image downloads alike
            limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
            client = CloudflareClient(settings, httpx.Client(limits=limits))
            fetch_http = httpx.Client(limits=limits, follow_redirects=False)
            _pipeline = JobPipeline(settings, table, client, fetch_http, StorageLookup(threads))
        return _pipeline


@app.task(name="seedream.process_job")
def process_job(job_id: int) -> None:
    """Run one job; a transient failure sends the job back to the queue after its backoff."""
    outcome = get_pipeline().run(job_id)
    if outcome.retry_in is not None:
        process_job.apply_async((job_id,), countdown=outcome.retry_in)


def enqueue(job_ids: Sequence[int]) -> None:
    """Put one message per job on the queue, one `apply_async` each (worker.publish does a
    whole chunk at once on Redis)."""
    for job_id in job_ids:
        process_job.apply_async((job_id,))
