"""The Celery application, configured from the settings; `worker.tasks` registers the job task,
`worker.scheduled` the one beat sends, and `worker.task_events` batches the task events a worker
publishes for Flower."""

from celery import Celery

from config.celery_config import celery_config
from config.settings import get_settings
from worker.task_events import BatchedTaskEvents

app = Celery("seedream_batch", include=["worker.tasks", "worker.scheduled"])
app.config_from_object(celery_config(get_settings()))
app.steps["consumer"].add(BatchedTaskEvents)
