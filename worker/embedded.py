"""A Celery worker running inside the calling process, for embedded mode.

The same task code, pool and settings as a `seedream-batch worker`, consuming the in-process
(memory) broker from a background thread, so `run` needs no Redis and no second terminal.
"""

import threading
from types import TracebackType
from typing import Any, Self

from celery import Celery, signals
from celery.worker import WorkController
from celery.worker import state as worker_state

#: how long `stop` waits for running jobs to finish before giving up on the thread
SHUTDOWN_TIMEOUT_S = 60.0


class _ReadyWorkController(WorkController):
    """A WorkController that says when its consumer is up (Celery's own test worker does this),
    and sends `worker_ready` as a `celery worker` does, so the dispatcher and the reaper start here
    too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.ready = threading.Event()
        super().__init__(*args, **kwargs)

    def on_consumer_ready(self, consumer: Any) -> None:
        signals.worker_ready.send(sender=consumer)
        self.ready.set()


class EmbeddedWorker:
    """`with EmbeddedWorker(app, 16):` runs 16 worker threads until the block ends."""

    def __init__(self, app: Celery, concurrency: int) -> None:
        self.app = app
        self.concurrency = concurrency
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Self:
        self.app.finalize()
        self.app.set_current()
        controller = _ReadyWorkController(
            app=self.app,
            concurrency=self.concurrency,
            pool="threads",
            loglevel="WARNING",
            ready_callback=None,
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(
            target=controller.start, name="embedded-worker", daemon=True
        )
        self._thread.start()
        controller.ready.wait()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._thread is not None
        # celery-types declares it None; Celery reads any exit code there, 0 stops cleanly
        worker_state.should_terminate = 0  # type: ignore[assignment]
        self._thread.join(SHUTDOWN_TIMEOUT_S)
        worker_state.should_terminate = None
