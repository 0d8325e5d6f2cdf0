"""Flower's task events, published a few times a second in one message each, not one by one.

A worker sends three task events per job (`task-received`, `task-started`, `task-succeeded`).
Celery buffers them, but wakes its event loop to publish the buffer after every event, so each
event costs a Redis PUBLISH of its own: with the API answering at once, a third of the consumer
thread's CPU (py-spy, 2,000 jobs on 32 threads). This consumer step publishes the buffer every
TASK_EVENTS_FLUSH_S instead, or at once when 24 events wait (Celery's own limit): the same events,
in order, in a few messages a second, each at most that much later in Flower.
"""

from typing import TYPE_CHECKING, Any

from celery import bootsteps

if TYPE_CHECKING:
    # celery-types' Consumer lacks the attributes its bootsteps set (event_dispatcher, hub):
    # the steps here read them from a consumer typed loosely
    Consumer = Any

#: how long a task event may wait in the worker before it is published
TASK_EVENTS_FLUSH_S = 0.25


class BatchedTaskEvents(bootsteps.StartStopStep):
    """Publishes the event dispatcher's buffer on a timer rather than after every event."""

    requires = ("celery.worker.consumer.events:Events",)

    def __init__(self, parent: "Consumer", **kwargs: Any) -> None:
        self._timer_entry: Any = None
        super().__init__(parent, **kwargs)

    def start(self, parent: "Consumer") -> None:
        # the dispatcher is made anew each time the consumer (re)connects: set it up each time
        dispatcher = parent.event_dispatcher
        if dispatcher is None or parent.hub is None:
            return  # no event loop: Celery sends each event as it comes, unbuffered
        dispatcher.on_send_buffered = None
        self._timer_entry = parent.timer.call_repeatedly(TASK_EVENTS_FLUSH_S, _flush, (parent,))

    def stop(self, parent: "Consumer") -> None:
        if self._timer_entry is not None:
            parent.timer.cancel(self._timer_entry)
            self._timer_entry = None
        _flush(parent)  # what waits goes out before the dispatcher closes


def _flush(consumer: "Consumer") -> None:
    if consumer.event_dispatcher is not None:
        consumer.event_dispatcher.flush()
