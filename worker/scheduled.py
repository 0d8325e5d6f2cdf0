"""The task beat sends for each fire of a schedule; a worker runs it like any other task.

The message carries the whole schedule as beat read it and the fire time, so what runs is what
fired, whatever the workers' own copy of the schedule file says. Since anyone who can write to
the broker can write such a message, its manifest and output are accepted only under the
workers' SEEDREAM_MANIFEST_ROOTS and SEEDREAM_OUTPUT_ROOTS (checked in start_scheduled_batch).
"""

from datetime import datetime
from typing import Any

from config.settings import get_settings
from jobs.schedules import Schedule
from producer.scheduled_run import start_scheduled_batch
from worker.app import app
from worker.publish import job_enqueuer
from worker.task_names import START_SCHEDULED_BATCH
from worker.tasks import get_pipeline


@app.task(name=START_SCHEDULED_BATCH)
def start_scheduled(schedule: dict[str, Any], fired_at: str) -> str:
    """Make the batch of this fire (see producer.scheduled_run); returns what the fire did."""
    with job_enqueuer(app) as enqueue:
        fire = start_scheduled_batch(
            get_pipeline().table,
            get_settings(),
            Schedule.model_validate(schedule),
            datetime.fromisoformat(fired_at),
            enqueue,
        )
    return fire.outcome.value
