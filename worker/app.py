"""The Celery application, configured from the settings; `worker.tasks` registers the task."""

from celery import Celery

from config.celery_config import celery_config
from config.settings import get_settings

app = Celery("seedream_batch", include=["worker.tasks"])
app.config_from_object(celery_config(get_settings()))
