"""The reaper: what the queue lost, found in the table and made due, on one worker at a time.

Every SEEDREAM_REAPER_INTERVAL_SECONDS each worker process tries to take the fleet's turn; the
one that gets it (a Redis key with a time to live, so a dead holder's turn passes on):

1. puts back the jobs whose lease expired (their worker died), counting in this process's
   metrics the attempts so lost and the jobs that failed for it (the dead worker cannot);
2. when the queue is empty, makes due the jobs still waiting a lease after their message was
   sent: a killed worker took those messages and Redis would hold them for an hour, or lost
   them (see jobs.recovery.make_unclaimed_due);
3. claims the webhook events of batches that completed or paused, and hands them to the
   notifier's sending threads (worker.notify), when webhooks are on.

The dispatcher (worker.dispatcher) sends what is due, a retry's due time included: a retry delay
lives in the table, never in a message a worker holds or a broker may re-deliver early, and a
job a killed worker held or had taken is running again within about a lease and an interval (for
taken ones: of the queue draining).
"""

import logging
import secrets
from dataclasses import dataclass
from typing import Protocol

import redis

from jobs.errors import ErrorClass
from jobs.results import ResultsTable
from worker.metrics import METRICS, WorkerMetrics
from worker.notify import BatchNotifier
from worker.periodic import PeriodicThread

log = logging.getLogger(__name__)


class FleetTurn(Protocol):
    """Whether this process may reap now: at most one process of the fleet per interval."""

    def take(self) -> bool: ...


class RedisTurn:
    """The turn is a Redis key (`jobs.redis_keys.reaper_turn`) set if absent, expiring after
    (most of) an interval."""

    def __init__(self, client: redis.Redis, key: str, ttl_s: float) -> None:
        self._client = client
        self._key = key
        self._ttl_ms = max(int(ttl_s * 1000), 1)
        self._token = secrets.token_hex(8)

    def take(self) -> bool:
        return bool(self._client.set(self._key, self._token, nx=True, px=self._ttl_ms))


class AlwaysMyTurn:
    """Embedded mode: the only worker is this process."""

    def take(self) -> bool:
        return True


class QueueProbe(Protocol):
    """Whether the job queue is empty: every message sent has been taken by a worker."""

    def is_empty(self) -> bool: ...


class RedisQueue:
    """The job queue on Redis: a list under the queue's name (kombu's, for priority 0)."""

    def __init__(self, client: redis.Redis, name: str) -> None:
        self._client = client
        self._name = name

    def is_empty(self) -> bool:
        return int(self._client.llen(self._name)) == 0


class InProcessQueue:
    """Embedded mode: no other process can take a message and die holding it."""

    def is_empty(self) -> bool:
        return False


@dataclass(frozen=True)
class Turn:
    """What one turn did."""

    #: jobs of workers whose lease expired, put back
    recovered: int
    #: jobs whose message a killed worker had taken, made due again
    unclaimed: int
    #: webhook events claimed (and being sent)
    notified: int = 0


class Reaper:
    """One turn at a time: recover the jobs of dead workers and lost messages."""

    def __init__(
        self,
        table: ResultsTable,
        turn: FleetTurn,
        queue: QueueProbe,
        *,
        max_attempts: int,
        lease_s: float,
        interval_s: float,
        notifier: BatchNotifier | None = None,
        metrics: WorkerMetrics = METRICS,
    ) -> None:
        self._table = table
        self._turn = turn
        self._queue = queue
        self._max_attempts = max_attempts
        self._lease_s = lease_s
        self._notifier = notifier
        self._metrics = metrics
        self._thread = PeriodicThread("reaper", interval_s, self.reap, jitter=0.2)

    def reap(self) -> Turn | None:
        """One turn, if this process gets it; None otherwise."""
        if not self._turn.take():
            return None
        recovered = self._table.recover_expired_leases(self._max_attempts)
        for state in recovered:
            self._metrics.attempt_failed(ErrorClass.worker_lost)
            if state.terminal:
                self._metrics.job_finished(state, ErrorClass.worker_lost)
        # a worker holds the messages it took (up to its thread count) for about a job's length:
        # a lease later they are presumed lost, and a copy costs at most a refused claim
        unclaimed = self._table.make_unclaimed_due(self._lease_s) if self._queue.is_empty() else 0
        notified = self._notifier.notify_due() if self._notifier is not None else 0
        turn = Turn(len(recovered), unclaimed, notified)
        if recovered or unclaimed or notified:
            log.info("reaper: %s", turn)
        return turn

    def start(self) -> None:
        self._thread.ensure_running()

    def stop(self) -> None:
        self._thread.stop()
