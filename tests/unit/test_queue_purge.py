"""Taking a stopped batch's messages off the Redis queue (real Redis and a real table)."""

import json
from typing import cast

import pytest
import redis

from config.settings import Settings
from jobs.redis_keys import JOB_QUEUE
from jobs.results import ResultsTable
from tests.support.tables import loaded
from worker.publish import JobMessages, job_message
from worker.queue_purge import drop_batch_messages, job_of


def test_a_job_message_gives_its_job_id_and_any_other_message_none() -> None:
    assert job_of(JobMessages().encode(42).encode()) == 42
    assert job_of(json.dumps(job_message("t", 7)).encode()) == 7
    other = job_message("t", 7)
    other["headers"]["task"] = "seedream.start_scheduled_batch"
    assert job_of(json.dumps(other).encode()) is None
    assert job_of(b"not json") is None


@pytest.mark.parametrize("table", ["sqlite"], indirect=True)
def test_only_the_stopped_batch_s_messages_leave_the_queue(
    table: ResultsTable, fresh_redis: str
) -> None:
    stopped = loaded(table, "a", "b", "c", batch="stopped")
    running = loaded(table, "a", "b", batch="running")
    client = redis.Redis.from_url(fresh_redis)
    messages = JobMessages()
    client.lpush(JOB_QUEUE, *(messages.encode(job) for job in [*stopped, *running]))
    client.lpush(JOB_QUEUE, messages.encode(stopped[0]))  # a duplicate goes too

    dropped = drop_batch_messages(
        Settings(_env_file=None, broker_url=fresh_redis), table, "stopped"
    )

    assert dropped == 4
    left = cast(list[bytes], client.lrange(JOB_QUEUE, 0, -1))
    assert sorted(job_of(message) or 0 for message in left) == sorted(running)


@pytest.mark.parametrize("table", ["sqlite"], indirect=True)
def test_without_a_redis_broker_there_is_nothing_to_take_off(table: ResultsTable) -> None:
    loaded(table, "a")

    assert drop_batch_messages(Settings(_env_file=None), table, "b") == 0
