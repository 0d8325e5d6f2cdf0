"""The reaper on real Redis and a real table: one turn per interval for the whole fleet, and a
turn puts back what dead workers held and makes lost messages' jobs due again."""

import time
from pathlib import Path

import pytest
import redis

from jobs.database import open_engine
from jobs.errors import ServerError
from jobs.redis_keys import reaper_turn
from jobs.results import ResultsTable
from tests.support.dispatching import dispatched
from tests.support.tables import loaded
from worker.reaper import Reaper, RedisQueue, RedisTurn, Turn

pytestmark = pytest.mark.integration


def test_one_reaper_of_the_fleet_takes_each_turn_and_makes_lost_and_unclaimed_jobs_due(
    fresh_redis: str, tmp_path: Path
) -> None:
    table = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    table.create_schema()
    due_id, lost_id, later_id = loaded(table, "due", "lost", "later")
    dispatched(table)  # every message is out
    for job_id, retry_in in ((due_id, 0.0), (later_id, 60.0)):
        claim = table.claim(job_id, "w", 60)
        assert claim is not None
        table.record_failure(claim, "w", ServerError("503"), 5, retry_in=retry_in)
    assert table.claim(lost_id, "dead", lease_seconds=-1) is not None
    client = redis.Redis.from_url(fresh_redis)
    client.lpush("jobs", "a message not yet taken")
    reapers = [
        Reaper(
            table,
            RedisTurn(client, reaper_turn("account"), ttl_s=0.5),
            RedisQueue(client, "jobs"),
            max_attempts=5,
            lease_s=0.2,
            interval_s=1,
        )
        for _ in range(2)
    ]

    first, second = (reaper.reap() for reaper in reapers)
    assert first == Turn(recovered=1, unclaimed=0)
    assert second is None  # one turn per interval, fleet-wide
    assert sorted(dispatched(table)) == sorted([due_id, lost_id])

    # a worker took every message and died: once the queue is empty, its jobs are due again
    time.sleep(0.6)
    assert reapers[1].reap() == Turn(recovered=0, unclaimed=0)  # the queue still holds one
    client.delete("jobs")
    time.sleep(0.6)
    assert reapers[0].reap() == Turn(recovered=0, unclaimed=2)
    assert sorted(dispatched(table)) == sorted([due_id, lost_id])


def test_the_reaper_s_turn_is_one_per_account_sharing_a_redis(fresh_redis: str) -> None:
    client = redis.Redis.from_url(fresh_redis)
    first, again = (RedisTurn(client, reaper_turn("account-a"), ttl_s=5) for _ in range(2))
    other = RedisTurn(client, reaper_turn("account-b"), ttl_s=5)

    assert first.take()
    assert not again.take()
    assert other.take()
