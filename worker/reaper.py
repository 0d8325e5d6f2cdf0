"""The reaper: what the queue does not hold, found in the table and sent, on one worker at a time.

Every SEEDREAM_REAPER_INTERVAL_SECONDS each worker process tries to take the fleet's turn; the
one that gets it (a Redis key with a time to live, so a dead holder's turn passes on) puts back
the jobs whose lease expired (their worker died) and sends a message for every job whose retry
is due. A job's retry delay therefore lives in the table, never in a message a worker holds or a
broker may re-deliver early, and a job a killed worker held is running again within about a
lease and an interval.
"""

import logging
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

import redis

from jobs.recovery import Enqueue
from jobs.results import ResultsTable
from worker.periodic import PeriodicThread

log = logging.getLogger(__name__)

#: the most messages one turn sends; the rest wait for the next turn (a turn must end before its
#: time to live, or a second reaper would send the same jobs)
MAX_SENT_PER_TURN = 20_000
#: the Redis key whose holder has the turn
TURN_KEY = "seedream:reaper:turn"


class FleetTurn(Protocol):
    """Whether this process may reap now: at most one process of the fleet per interval."""

    def take(self) -> bool: ...


class RedisTurn:
    """The turn is a Redis key set if absent, expiring after (most of) an interval."""

    def __init__(self, client: redis.Redis, ttl_s: float) -> None:
        self._client = client
        self._ttl_ms = max(int(ttl_s * 1000), 1)
        self._token = secrets.token_hex(8)

    def take(self) -> bool:
        return bool(self._client.set(TURN_KEY, self._token, nx=True, px=self._ttl_ms))


class AlwaysMyTurn:
    """Embedded mode: the only worker is this process."""

    def take(self) -> bool:
        return True


class Reaper:
    """One turn at a time: recover jobs of dead workers, then send the due ones."""

    def __init__(
        self,
        table: ResultsTable,
        enqueuer: Callable[[], AbstractContextManager[Enqueue]],
        turn: FleetTurn,
        *,
        max_attempts: int,
        interval_s: float,
    ) -> None:
        self._table = table
        self._enqueuer = enqueuer
        self._turn = turn
        self._max_attempts = max_attempts
        self._thread = PeriodicThread("reaper", interval_s, self.reap, jitter=0.2)

    def reap(self) -> tuple[int, int] | None:
        """One turn, if this process gets it: (jobs put back, messages sent); None otherwise."""
        if not self._turn.take():
            return None
        recovered = self._table.recover_expired_leases(self._max_attempts)
        with self._enqueuer() as enqueue:
            sent = self._table.enqueue_due(enqueue, limit=MAX_SENT_PER_TURN)
        if recovered or sent:
            log.info("reaper: %d jobs of stopped workers put back, %d due jobs sent",
                     recovered, sent)  # fmt: skip
        return recovered, sent

    def start(self) -> None:
        self._thread.ensure_running()

    def stop(self) -> None:
        self._thread.stop()
