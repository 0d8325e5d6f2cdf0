"""Taking a stopped batch's messages off the broker's queue, so nothing of it stays in Redis.

The queue holds only the dispatcher's short window (worker.dispatcher), so reading it whole is
cheap. A message is matched to its batch through the table, by the job id it carries; a message
a worker already took is refused by its claim (the batch no longer runs) and acknowledged.

A dispatcher turn that read the batch's jobs just before it was stopped may push their messages
just after the first pass, so the queue is read a second time a dispatch interval later.
"""

import base64
import json
import time
from typing import cast

import redis

from config.settings import REDIS_SCHEMES, Settings
from jobs.redis_keys import JOB_QUEUE
from jobs.results import ResultsTable
from worker.task_names import PROCESS_JOB


def drop_batch_messages(settings: Settings, table: ResultsTable, batch_id: str) -> int:
    """Remove the batch's job messages from the fleet's Redis queue; returns how many. Nothing
    to do without a Redis broker (embedded mode's queue lives and dies with its process)."""
    url = settings.broker_url
    if url is None or not url.startswith(REDIS_SCHEMES):
        return 0
    client = redis.Redis.from_url(url)
    dropped = _drop_once(client, table, batch_id)
    time.sleep(settings.dispatch_interval_seconds)
    return dropped + _drop_once(client, table, batch_id)


def _drop_once(client: redis.Redis, table: ResultsTable, batch_id: str) -> int:
    messages = cast(list[bytes], client.lrange(JOB_QUEUE, 0, -1))
    by_job: dict[int, list[bytes]] = {}
    for message in messages:
        job_id = job_of(message)
        if job_id is not None:
            by_job.setdefault(job_id, []).append(message)
    ours = table.jobs_of_batch(batch_id, list(by_job))
    pipe = client.pipeline(transaction=False)
    for job_id in ours:
        for message in by_job[job_id]:
            pipe.lrem(JOB_QUEUE, 1, message)  # type: ignore[arg-type]  # bytes are sent as is
    return sum(int(removed) for removed in pipe.execute())


def job_of(message: bytes) -> int | None:
    """The job id a `process_job` message carries, or None for any other message."""
    try:
        envelope = json.loads(message)
        if envelope["headers"]["task"] != PROCESS_JOB:
            return None
        body = envelope["body"]
        if envelope.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        return int(args[0])
    except (ValueError, KeyError, IndexError, TypeError):
        return None
