"""Waiting on a fleet the command did not start: warn when no worker answers.

`run` (and `submit --watch`) with a broker only enqueue, then wait for `worker` processes that may
not be running: without a word, that wait looks like a hang. While it waits, a thread pings the
workers (Celery's `control.ping`, answered by a worker's consumer even when all its threads are
busy) and warns, within seconds, when none has answered for NO_WORKER_WARNING_S; the warning is
repeated rarely while the silence lasts, and the command keeps waiting (a worker may yet start).
"""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from celery import Celery

from worker.broker import broker_errors

#: how long the fleet may be silent before the warning: a worker answers a ping within a second,
#: so a few pings unanswered mean no worker listens (the warning comes within about 10 s)
NO_WORKER_WARNING_S = 6.0
#: how long one ping waits for answers
PING_TIMEOUT_S = 1.0
#: between pings
PING_INTERVAL_S = 2.0
#: how often the warning is repeated while no worker answers: a reminder, not a flood
WARNING_REPEAT_S = 300.0

Ping = Callable[[], bool]


class FleetWatch:
    """Pings until stopped; calls `warn` when no worker has answered for NO_WORKER_WARNING_S,
    then again every WARNING_REPEAT_S while the silence lasts."""

    def __init__(
        self, ping: Ping, warn: Callable[[float], None], clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ping = ping
        self._warn = warn
        self._clock = clock
        self._last_answer = clock()
        self._last_warning: float | None = None

    def turn(self) -> None:
        """One ping, and the warning if it is due."""
        answered = self._ping()
        now = self._clock()
        if answered:
            self._last_answer, self._last_warning = now, None
            return
        silent = now - self._last_answer
        repeat_due = self._last_warning is None or now - self._last_warning >= WARNING_REPEAT_S
        if silent >= NO_WORKER_WARNING_S and repeat_due:
            self._last_warning = now
            self._warn(silent)

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self.turn()
            stop.wait(PING_INTERVAL_S)


def celery_ping(app: Celery) -> Ping:
    """Whether any worker answers a ping on the app's broker (a broker that is gone: none)."""

    def ping() -> bool:
        with app.connection_for_write() as conn:
            try:
                return bool(app.control.ping(timeout=PING_TIMEOUT_S, connection=conn))
            except broker_errors(conn):
                return False

    return ping


@contextmanager
def watching_the_fleet(ping: Ping, warn: Callable[[float], None]) -> Iterator[None]:
    """Watch the fleet on a thread of its own for the time of the block."""
    stop = threading.Event()
    watch = FleetWatch(ping, warn)
    thread = threading.Thread(target=watch.run, args=(stop,), name="seedream-fleet-watch")
    thread.daemon = True  # a ping in progress never holds up the command's exit
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(PING_TIMEOUT_S * 2)
