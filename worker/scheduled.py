"""The task beat sends for each fire of a schedule; a worker runs it like any other task.

The message carries the whole schedule as beat read it and the fire time, so what runs is what
fired, whatever the workers' own copy of the schedule file says. Since anyone who can write to
the broker can write such a message, its manifest and output are accepted only under the
workers' SEEDREAM_MANIFEST_ROOTS and SEEDREAM_OUTPUT_ROOTS (checked by the starter).

Making the batch is the producer's work (reading a manifest, recording its jobs),
and imports run one way, `producer/` onto `worker/`: so the task runs whatever BatchStarter the
process that starts the worker installed. The CLI's `worker` command (and embedded mode) installs
`producer.scheduled_run.start_scheduled_batch`; a worker started without one fails the fire with
NoBatchStarter in its log instead of dropping it silently.
"""

from datetime import datetime
from typing import Any, Protocol

from config.settings import Settings, get_settings
from jobs.dispatch import Wake
from jobs.results import ResultsTable
from jobs.schedules import Schedule
from worker.app import app
from worker.fleet_coordination import dispatcher_waker
from worker.task_names import START_SCHEDULED_BATCH
from worker.tasks import get_pipeline


class FireDone(Protocol):
    """What a starter reports of one fire."""

    @property
    def outcome(self) -> str:
        """What the fire did (started, exists, refused...), the task's result."""
        ...


class BatchStarter(Protocol):
    """Makes the batch of one fire of a schedule."""

    def __call__(
        self,
        table: ResultsTable,
        settings: Settings,
        schedule: Schedule,
        fired_at: datetime,
        wake: Wake,
        /,
    ) -> FireDone: ...


class NoBatchStarter(RuntimeError):
    """The worker was started without a BatchStarter (not through `seedream-batch worker`)."""


_starter: BatchStarter | None = None


def install_batch_starter(starter: BatchStarter) -> None:
    """What this process's workers run for each fire; set before the worker consumes."""
    global _starter
    _starter = starter


@app.task(name=START_SCHEDULED_BATCH)
def start_scheduled(schedule: dict[str, Any], fired_at: str) -> str:
    """Make the batch of this fire with the installed starter; returns what the fire did."""
    if _starter is None:
        raise NoBatchStarter(
            "no batch starter installed: start workers with `seedream-batch worker`, which "
            "installs the one that makes scheduled batches"
        )
    settings = get_settings()
    fire = _starter(
        get_pipeline().table,
        settings,
        Schedule.model_validate(schedule),
        datetime.fromisoformat(fired_at),
        dispatcher_waker(settings),
    )
    return str(fire.outcome)
