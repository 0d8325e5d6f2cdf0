"""Job messages made from a template: what Celery's own machinery reads in them, and their size.

The worker side is exercised for real in tests/integration/test_distributed.py; here the message
goes through the same kombu and Celery code a worker runs on a message it took from Redis, and is
held to the message kombu and Celery themselves write for the same task: `worker/publish.py`
writes their format by hand, so an upgrade that changes it fails here (constraints.txt pins them).
"""

import base64
import json
import uuid
from typing import Any

from celery import Celery
from celery.worker.request import Request
from kombu import Connection
from kombu.transport import virtual
from kombu.transport.virtual import Message

from jobs.redis_keys import JOB_QUEUE
from worker.app import app
from worker.publish import JobMessages, enqueue_one_by_one, job_enqueuer, job_message
from worker.tasks import process_job

#: what kombu and Celery write that a job message leaves out: headers protocol 2 reads as their
#: defaults when absent (or that only describe the sender), AMQP's reply queue and persistence,
#: and the body's encoding (a job message's body is its JSON text, not base64)
LEFT_OUT = {
    "headers": {
        "argsrepr",
        "eta",
        "expires",
        "group_index",
        "ignore_result",
        "kwargsrepr",
        "origin",
        "replaced_task_nesting",
        "retries",
        "shadow",
        "stamped_headers",
        "stamps",
        "timelimit",
    },
    "properties": {"body_encoding", "delivery_mode", "reply_to"},
}


def as_kombu_stores_it(task_id: str, job_id: int) -> dict[str, Any]:
    """The message kombu stores when Celery's own `apply_async` sends `process_job(job_id)`: its
    virtual transport's message, which the Redis transport LPUSHes as JSON."""
    with Connection("memory://") as connection:
        with connection.Producer() as producer:
            process_job.apply_async((job_id,), task_id=task_id, producer=producer)
        channel = connection.default_channel
        assert isinstance(channel, virtual.Channel)
        message: dict[str, Any] = channel._get(JOB_QUEUE)
        return message


def as_worker_reads_it(text: str) -> Request:
    """The request a Celery worker makes of `text` popped from the queue's Redis list."""
    with Connection("memory://") as connection:
        channel = connection.default_channel
        assert isinstance(channel, virtual.Channel)
        message = Message(json.loads(text), channel=channel)
        return Request(message, app=app, task=process_job)


def test_a_job_message_is_read_by_celery_as_process_job_of_the_job_id() -> None:
    request = as_worker_reads_it(JobMessages().encode(4242))

    assert request.name == process_job.name == "seedream.process_job"
    assert request.args == [4242]
    assert request.kwargs == {}
    assert request.delivery_info["routing_key"] == JOB_QUEUE
    assert request.ignore_result is True  # from the task, as with apply_async


def test_every_header_a_job_message_has_is_what_celery_itself_sends() -> None:
    task_id = str(uuid.uuid4())
    ours = job_message(task_id, 7)
    headers, properties, body, _ = app.amqp.as_task_v2(task_id, process_job.name, args=(7,))

    assert ours["headers"] == {name: headers[name] for name in ours["headers"]}
    assert ours["properties"]["correlation_id"] == properties["correlation_id"]
    assert json.loads(ours["body"])[:2] == [list(body[0]), body[1]]


def test_a_job_message_is_the_one_kombu_stores_but_for_what_it_leaves_out() -> None:
    task_id = str(uuid.uuid4())
    theirs, ours = as_kombu_stores_it(task_id, 7), job_message(task_id, 7)

    assert set(ours) == set(theirs)
    assert ours["content-type"] == theirs["content-type"] == "application/json"
    assert ours["content-encoding"] == theirs["content-encoding"]
    for part in ("headers", "properties"):
        assert set(theirs[part]) - set(ours[part]) == LEFT_OUT[part], part
        kept = set(ours[part]) - {"delivery_tag"}  # a unique string, kombu's or the task id
        assert {name: ours[part][name] for name in kept} == {
            name: theirs[part][name] for name in kept
        }, part
    assert theirs["properties"]["body_encoding"] == "base64"
    args, kwargs, embed = json.loads(base64.b64decode(theirs["body"]))
    assert json.loads(ours["body"]) == [args, kwargs, {}]
    assert set(embed.values()) == {None}  # an empty embed says the same


def test_the_template_fills_in_to_the_message_with_a_new_uuid4_task_id_each_time() -> None:
    messages = JobMessages()
    first, second = json.loads(messages.encode(1)), json.loads(messages.encode(1))
    other_producer = json.loads(JobMessages().encode(1))
    task_id = first["headers"]["id"]

    assert first == job_message(task_id, 1)
    assert first["properties"]["delivery_tag"] == task_id
    assert uuid.UUID(task_id).version == 4
    assert str(uuid.UUID(task_id)) == task_id
    assert len({task_id, second["headers"]["id"], other_producer["headers"]["id"]}) == 3


def test_a_job_message_is_well_under_half_a_kilobyte() -> None:
    assert len(JobMessages().encode(10**12)) < 500


def test_without_redis_jobs_are_enqueued_one_message_at_a_time() -> None:
    with job_enqueuer(Celery(broker="memory://")) as enqueue:
        assert enqueue is enqueue_one_by_one
