"""The Celery task, and the process-wide parts every worker thread shares.

The task is a thin shell around JobPipeline, which holds the logic. The message carries only the
job id; everything else is read from the results table, so a message delivered twice, late, or
after a resume is harmless. A worker process also runs the dispatcher (worker.dispatcher) and the
reaper (worker.reaper), each acting in its fleet-wide turn, started when the worker is ready and
stopped when it shuts down, and, when SEEDREAM_METRICS_PORT is set, serves its Prometheus
metrics (worker.metrics) from then on.
"""

import logging
import threading
import time
from typing import Any

import redis
import sqlalchemy.exc
from celery.signals import worker_ready, worker_shutdown

from config.settings import REDIS_SCHEMES, Settings, get_settings
from jobs.database import open_engine
from jobs.redis_keys import JOB_QUEUE, dispatcher_turn, dispatcher_wake, fleet_threads, reaper_turn
from jobs.results import ResultsTable
from worker.address_policy import AddressPolicy, system_resolver
from worker.app import app
from worker.cloudflare import CloudflareClient
from worker.dispatcher import Dispatcher, WindowSize
from worker.fleet_coordination import (
    LOCAL_WAKEUP,
    AlwaysHeld,
    FleetThreads,
    HeldTurn,
    LocalThreads,
    RedisFleetThreads,
    RedisHeldTurn,
    RedisWakeup,
    Wakeup,
)
from worker.guarded_network import guarded_client
from worker.identity import process_identity
from worker.limited_client import LimitedClient
from worker.limiter import ModelLimiters
from worker.metrics import serve_metrics
from worker.notify import open_notifier
from worker.pipeline import JobPipeline
from worker.publish import job_enqueuer
from worker.reaper import (
    AlwaysMyTurn,
    FleetTurn,
    InProcessQueue,
    QueueProbe,
    Reaper,
    RedisQueue,
    RedisTurn,
)
from worker.storage.lookup import StorageLookup
from worker.task_names import PROCESS_JOB

#: connections for image downloads, whatever the thread count
MAX_FETCH_CONNECTIONS = 64
#: the dispatcher's turn outlives a holder that stopped renewing it by this long at least
TURN_TTL_S = 5.0
#: how long a worker thread waits before re-sending a job whose table it could not reach
TABLE_OUTAGE_PAUSE_S = 5.0

log = logging.getLogger(__name__)

_pipeline: JobPipeline | None = None
_reaper: Reaper | None = None
_dispatcher: Dispatcher | None = None
_lock = threading.Lock()


def get_pipeline() -> JobPipeline:
    """The process's pipeline, built on first use and shared by all its worker threads."""
    global _pipeline
    with _lock:
        if _pipeline is None:
            settings = get_settings()
            threads = settings.concurrency
            table = ResultsTable(open_engine(settings.database_url))
            table.create_schema()
            # an API call holds its connection for the whole 10-60 s call: one per thread
            client = LimitedClient(
                CloudflareClient(settings, guarded_client(threads)),
                ModelLimiters(settings).for_model,
            )
            # a download takes milliseconds, and a big pool costs CPU on every request (measured:
            # 2.95 ms a request with 500 threads on 500 connections, 1.15 ms on 32)
            fetch_connections = min(threads, MAX_FETCH_CONNECTIONS)
            fetch_http = guarded_client(
                fetch_connections,
                AddressPolicy.for_api_base(
                    settings.api_base, system_resolver, allow_all=settings.fetch_allow_private
                ),
            )
            _pipeline = JobPipeline(settings, table, client, fetch_http, StorageLookup(threads))
        return _pipeline


@app.task(name=PROCESS_JOB)
def process_job(job_id: int) -> None:
    """Run one job. A failure leaves it with a due time in the table, not a delayed message.

    When the table itself cannot be reached, nothing can be recorded there, and the message is
    the only sign the job should run: it is sent again after a pause rather than acknowledged
    and lost. (If the job was claimed before the outage, the new message finds it leased and is
    dropped; the reaper puts the job back when its lease expires.)
    """
    try:
        get_pipeline().run(job_id)
    except (sqlalchemy.exc.OperationalError, sqlalchemy.exc.TimeoutError):
        log.warning("job %s: the results table is unreachable; sent again in %g s",
                    job_id, TABLE_OUTAGE_PAUSE_S, exc_info=True)  # fmt: skip
        time.sleep(TABLE_OUTAGE_PAUSE_S)
        process_job.apply_async((job_id,))


@worker_ready.connect
def start_reaper(**_: Any) -> None:
    """Each worker process reaps in its turn, from the moment it consumes jobs."""
    global _reaper
    settings = get_settings()
    limiter_url = settings.fleet_limiter_url()
    turn: FleetTurn = AlwaysMyTurn()
    if limiter_url is not None:
        turn = RedisTurn(
            redis.Redis.from_url(limiter_url),
            reaper_turn(settings.account_id),
            settings.reaper_interval_seconds * 0.9,
        )
    queue: QueueProbe = InProcessQueue()
    if settings.broker_url is not None and settings.broker_url.startswith(REDIS_SCHEMES):
        queue = RedisQueue(redis.Redis.from_url(settings.broker_url), JOB_QUEUE)
    table = get_pipeline().table
    with _lock:
        if _reaper is None:
            _reaper = Reaper(
                table,
                turn,
                queue,
                max_attempts=settings.max_attempts,
                lease_s=settings.lease_seconds,
                interval_s=settings.reaper_interval_seconds,
                notifier=open_notifier(settings, table),
            )
    _reaper.start()


@worker_ready.connect
def start_dispatcher(sender: Any = None, **_: Any) -> None:
    """Each worker process dispatches in its turn, from the moment it consumes jobs."""
    global _dispatcher
    settings = get_settings()
    threads = _threads_of(sender, settings)
    table = get_pipeline().table
    with _lock:
        if _dispatcher is None:
            _dispatcher = _open_dispatcher(settings, table, threads)
    _dispatcher.start()


def _open_dispatcher(settings: Settings, table: ResultsTable, threads: int) -> Dispatcher:
    """The dispatcher of this process: coordinated through the fleet's Redis, or alone in it."""
    interval = settings.dispatch_interval_seconds
    limiter_url = settings.fleet_limiter_url()
    turn: HeldTurn
    fleet: FleetThreads
    wakeup: Wakeup
    if limiter_url is None:
        turn, fleet, wakeup = AlwaysHeld(), LocalThreads(threads), LOCAL_WAKEUP
    else:
        client = redis.Redis.from_url(limiter_url)
        ttl = max(TURN_TTL_S, 4 * interval)
        turn = RedisHeldTurn(client, dispatcher_turn(settings.account_id), process_identity(), ttl)
        fleet = RedisFleetThreads(
            client, fleet_threads(settings.account_id), process_identity(), threads, ttl
        )
        wakeup = RedisWakeup(client, dispatcher_wake(settings.account_id))
    window = WindowSize(
        fleet,
        fixed=settings.dispatch_window,
        calls_per_s=settings.fleet_calls_per_second(),
        interval_s=interval,
    )
    return Dispatcher(
        table,
        lambda: job_enqueuer(app),
        turn,
        fleet,
        wakeup,
        window,
        interval_s=interval,
    )


def _threads_of(consumer: Any, settings: Settings) -> int:
    """The worker threads of this process: its pool's, or SEEDREAM_CONCURRENCY."""
    pool = getattr(getattr(consumer, "controller", None), "concurrency", None)
    return int(pool) if isinstance(pool, int) and pool > 0 else settings.concurrency


@worker_ready.connect
def start_metrics_server(**_: Any) -> None:
    """Serve `/metrics` once the worker consumes jobs. A port already taken raises here, and
    Celery logs it: the jobs still run, and the health check (which asks that port) fails."""
    settings = get_settings()
    if settings.metrics_port is not None:
        serve_metrics(settings.metrics_port, settings.metrics_host)


@worker_shutdown.connect
def stop_reaper(**_: Any) -> None:
    if _reaper is not None:
        _reaper.stop()


@worker_shutdown.connect
def stop_dispatcher(**_: Any) -> None:
    if _dispatcher is not None:
        _dispatcher.stop()
