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
from worker.limited_client import LimitedClient
from worker.limiter import open_limiter
from worker.pipeline import JobPipeline, StorageLookup

#: connections for image downloads, whatever the thread count
MAX_FETCH_CONNECTIONS = 64

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
            # an API call holds its connection for the whole 10-60 s call: one per thread
            api_limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
            client = LimitedClient(
                CloudflareClient(settings, httpx.Client(limits=api_limits)), open_limiter(settings)
            )
            # a download takes milliseconds, and a big pool costs CPU on every request (measured:
            # 2.95 ms a request with 500 threads on 500 connections, 1.15 ms on 32)
            fetch_connections = min(threads, MAX_FETCH_CONNECTIONS)
            fetch_http = httpx.Client(
                limits=httpx.Limits(
                    max_connections=fetch_connections, max_keepalive_connections=fetch_connections
                ),
                follow_redirects=False,
            )
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
