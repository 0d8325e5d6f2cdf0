"""Putting job messages on the queue in bulk: one LPUSH per chunk of jobs on Redis.

`apply_async` builds a full message and makes a Redis round trip for every job (100-250 µs
each), which caps `submit` at a few thousand jobs a second. Job messages differ only in the job
id and a unique task id, so on Redis they are filled into one template and a whole chunk goes in
one LPUSH (FIFO, like kombu's own LPUSH + BRPOP), through the client kombu itself publishes with.

The message is Celery's protocol 2, read by an unmodified worker as `process_job(job_id)`: it
carries only the fields the protocol requires, and its JSON body as text instead of base64, so a
queued job costs Redis about 515 bytes instead of 1,030. Transports other than Redis (the
in-memory broker of embedded mode) keep `apply_async`.

A broker lost while a chunk is sent raises `worker.broker.BrokerUnreachable` at once: kombu's own
reconnecting would hold the chunk for seconds, then raise its transport's error.
"""

import itertools
import json
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

from celery import Celery
from kombu import Connection
from kombu.transport import redis as kombu_redis

from jobs.redis_keys import JOB_QUEUE
from worker.app import app as job_app
from worker.broker import BROKER_CHECK_TIMEOUT_S, broker_errors, unreachable
from worker.task_names import PROCESS_JOB

#: where JobMessages' template takes each message's own values
_PLACEHOLDERS = {"task_id": "@@task_id@@", "job_id": "@@job_id@@"}


def job_message(task_id: str, job_id: int | str, queue: str = JOB_QUEUE) -> dict[str, Any]:
    """The message, as kombu's Redis transport stores it, that runs `process_job(job_id)`.

    Headers and properties are those protocol 2 requires; the embed (callbacks, chain...) is
    empty; `body_encoding` is left out, so kombu reads the body as the JSON text it is. The task
    id, unique per message, is also its delivery tag (the key of kombu's unacked hash), which
    only needs to be unique too.
    """
    return {
        "body": f"[[{job_id}], {{}}, {{}}]",  # json.dumps([[job_id], {}, {}])
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py",
            "task": PROCESS_JOB,
            "id": task_id,
            "root_id": task_id,
            "parent_id": None,
            "group": None,
        },
        "properties": {
            "correlation_id": task_id,
            "delivery_info": {"exchange": "", "routing_key": queue},
            "priority": 0,
            "delivery_tag": task_id,
        },
    }


class JobMessages:
    """Job messages made from one template: per message, a counter and a string format.

    Task ids are version-4 UUIDs whose last 48 bits count the messages this instance made and
    the other 74 random bits are drawn once: unique like uuid4() (which costs a system call and
    most of a message's time), without the cost.
    """

    def __init__(self, queue: str = JOB_QUEUE) -> None:
        text = json.dumps(job_message(**_PLACEHOLDERS, queue=queue))
        text = text.replace("%", "%%")
        for name, placeholder in _PLACEHOLDERS.items():
            text = text.replace(placeholder, f"%({name})s")
        self._template = text
        self._id_prefix = str(uuid.uuid4())[:24]
        self._count = itertools.count()

    def encode(self, job_id: int) -> str:
        """The message for `job_id`, as the JSON text kombu would store for it."""
        task_id = f"{self._id_prefix}{next(self._count):012x}"
        return self._template % {"task_id": task_id, "job_id": int(job_id)}


def enqueue_one_by_one(job_ids: Sequence[int]) -> None:
    """Put one message per job on the queue, one `send_task` each: for transports other than
    Redis, where a whole chunk cannot go in one LPUSH."""
    for job_id in job_ids:
        job_app.send_task(PROCESS_JOB, (job_id,))


@contextmanager
def job_enqueuer(app: Celery, queue: str = JOB_QUEUE) -> Iterator[Callable[[Sequence[int]], None]]:
    """A function that enqueues a chunk of jobs on the app's broker, usable inside the block.

    Nothing connects before the first chunk, so a manifest that cannot be read fails on its own.
    """
    with app.connection_for_write() as connection:
        if isinstance(connection.transport, kombu_redis.Transport):
            yield _RedisEnqueuer(connection, queue)
        else:
            yield enqueue_one_by_one


class _RedisEnqueuer:
    """Each chunk of jobs as one LPUSH of their messages."""

    def __init__(self, connection: Connection, queue: str) -> None:
        self._connection = connection
        self._queue = queue
        self._messages = JobMessages(queue)

    def __call__(self, job_ids: Sequence[int]) -> None:
        if not job_ids:
            return
        connection = self._connection
        try:
            # kombu takes seconds as a float here; celery-types narrows it to int
            connection.ensure_connection(
                max_retries=0,
                timeout=BROKER_CHECK_TIMEOUT_S,  # type: ignore[arg-type]
            )
            # the client kombu publishes with: same URL, TLS, sentinel and key prefix settings
            channel = cast(kombu_redis.Channel, connection.default_channel)
            with channel.conn_or_acquire() as client:
                client.lpush(self._queue, *map(self._messages.encode, job_ids))
        except broker_errors(connection) as exc:
            raise unreachable(connection, exc, BROKER_CHECK_TIMEOUT_S) from None
