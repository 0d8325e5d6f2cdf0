"""A daemon thread that does one thing every so often, whatever happens to any one run of it.

Lease renewers and the reaper are all this: an action that must keep being repeated even when
one run fails (Redis restarting, the database busy), because the next may well work.
"""

import logging
import random
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicThread:
    """Runs `action` every `every_s` seconds (give or take `jitter` of it) on a daemon thread,
    started by the first `ensure_running` and ended by `stop`."""

    def __init__(
        self, name: str, every_s: float, action: Callable[[], object], jitter: float = 0.0
    ) -> None:
        self.name = name
        self._every_s = every_s
        self._action = action
        self._jitter = jitter
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wait for the run in progress, if any, to finish."""
        with self._lock:
            thread = self._thread
            self._thread = None
        self._stopping.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        while not self._stopping.wait(self._next_wait()):
            try:
                self._action()
            except Exception:  # one failed run must not end the thread: the next may work
                log.warning("%s failed; trying again in %.1f s", self.name, self._every_s,
                            exc_info=True)  # fmt: skip

    def _next_wait(self) -> float:
        spread = self._every_s * self._jitter
        return self._every_s + random.uniform(-spread, spread)
