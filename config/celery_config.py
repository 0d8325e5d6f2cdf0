"""Celery's configuration, built from the settings: the queue is a transport, the table is truth."""

from typing import Any

from config.settings import Settings
from jobs.redis_keys import JOB_QUEUE

#: Redis re-delivers an unacknowledged message after this long; longer than any job's lease, so a
#: live job is not handed out twice (and if it is, the claim in the table refuses the second)
VISIBILITY_TIMEOUT_S = 3600
#: the in-process broker polls its queue; short, so embedded workers do not idle between jobs
MEMORY_POLLING_INTERVAL_S = 0.01


def celery_config(settings: Settings) -> dict[str, Any]:
    """Settings for at-least-once delivery: ack after the work, re-deliver if a worker dies."""
    transport_options: dict[str, Any] = (
        {"polling_interval": MEMORY_POLLING_INTERVAL_S}
        if settings.embedded
        else {"visibility_timeout": VISIBILITY_TIMEOUT_S}
    )
    return {
        "broker_url": settings.broker_url or "memory://",
        "broker_transport_options": transport_options,
        "broker_connection_retry_on_startup": True,
        "task_default_queue": JOB_QUEUE,
        "task_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_ignore_result": True,
        "worker_prefetch_multiplier": 1,
        "worker_pool": "threads",
        "worker_concurrency": settings.concurrency,
        "worker_hijack_root_logger": False,
        # task events and the workers' heartbeats (on by default) are what Flower shows; in
        # embedded mode no one could watch the in-process broker, so nothing is sent
        "worker_send_task_events": not settings.embedded,
        "task_send_sent_event": not settings.embedded,
    }
