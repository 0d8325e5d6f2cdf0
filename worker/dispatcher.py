"""The dispatcher: one process of the fleet at a time keeps the broker's short window of job
messages topped up from the table (jobs.dispatch), sharing it among batches by weight.

Every worker process runs this loop; only the holder of the fleet's turn
(worker.fleet_coordination) dispatches, the others renew their place in the fleet and try for
the turn every interval, so a dispatcher killed mid-batch is replaced within the turn's time to
live. Embedded `run` runs the same loop in its process, always holding the turn.

The window is what the fleet can take before the next turn: twice its free worker threads, and
at least the calls its rate limit allows in two intervals (so no thread waits for a message when
the provider would take its call), or SEEDREAM_DISPATCH_WINDOW when set.
"""

import logging
import math
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager

from jobs.database import utcnow
from jobs.dispatch import Dispatched, Enqueue, dispatch_turn
from jobs.fair_share import FairShare
from jobs.results import ResultsTable
from worker.fleet_coordination import FleetThreads, HeldTurn, Wakeup

log = logging.getLogger(__name__)

#: the window never shrinks below this many messages, however busy the fleet's threads
MIN_WINDOW = 8
#: after a failed turn (Redis or the table unreachable), the next try waits at least this long,
#: so an outage is a warning every few seconds rather than four a second
FAILED_TURN_PAUSE_S = 2.0


class WindowSize:
    """How many messages the window should hold, given the jobs running fleet-wide."""

    def __init__(
        self, threads: FleetThreads, *, fixed: int | None, calls_per_s: float, interval_s: float
    ) -> None:
        self._threads = threads
        self._fixed = fixed
        rate_floor = 2 * calls_per_s * interval_s if math.isfinite(calls_per_s) else 0
        self._floor = max(MIN_WINDOW, math.ceil(rate_floor))

    def __call__(self, running: int) -> int:
        if self._fixed is not None:
            return self._fixed
        free = max(self._threads.total() - running, 0)
        return max(2 * free, self._floor)


class Dispatcher:
    """Sends due jobs from the table to the broker, one turn per interval or wake-up."""

    def __init__(
        self,
        table: ResultsTable,
        enqueuer: Callable[[], AbstractContextManager[Enqueue]],
        turn: HeldTurn,
        threads: FleetThreads,
        wakeup: Wakeup,
        window: WindowSize,
        *,
        interval_s: float,
    ) -> None:
        self._table = table
        self._enqueuer = enqueuer
        self._turn = turn
        self._threads = threads
        self._wakeup = wakeup
        self._window = window
        self._interval_s = interval_s
        self._fair = FairShare()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def dispatch(self) -> Dispatched | None:
        """One turn, if this process holds the fleet's turn; None otherwise."""
        self._threads.announce()
        if not self._turn.hold():
            # another process dispatches: its shares rule, and ours would be stale if it died
            self._fair = FairShare()
            return None
        with self._enqueuer() as enqueue:
            done = dispatch_turn(self._table.engine, enqueue, self._fair, self._window, utcnow())
        if done.total:
            log.debug("dispatcher: %s", done)
        return done

    def start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """End the loop after the turn in progress."""
        with self._lock:
            thread, self._thread = self._thread, None
        self._stopping.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.dispatch()
                self._wakeup.wait(self._interval_s)
            except Exception:  # one failed turn must not end the loop: the next may work
                pause = max(self._interval_s, FAILED_TURN_PAUSE_S)
                log.warning("dispatcher turn failed; trying again in %.1f s", pause,
                            exc_info=True)  # fmt: skip
                self._stopping.wait(pause)
