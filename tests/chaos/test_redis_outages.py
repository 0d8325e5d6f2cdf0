"""Redis restarted mid-batch (the fleet reconnects by itself), and Redis flushed mid-batch
(`resume` finds every job the queue lost, from the table; without it the reaper would too, a
lease after the queue drained)."""

import re

import pytest

from tests.chaos.harness import ChaosRun
from tests.support.processes import wait_until
from tests.support.services import RedisServer

pytestmark = pytest.mark.chaos


def quarter_done(chaos: ChaosRun) -> str:
    batch = chaos.start(jobs=200, workers=2, latency_s=0.5, jitter_s=0.5)
    wait_until(lambda: chaos.fleet.succeeded(batch) >= 50, 60, "a quarter of the batch done")
    return batch


def test_a_redis_restart_mid_batch_is_survived_without_help(
    chaos: ChaosRun, chaos_redis: RedisServer
) -> None:
    batch = quarter_done(chaos)

    chaos_redis.restart(down_s=2)
    chaos.fleet.settle(batch)

    assert chaos.checked("Redis restart", batch).states["succeeded"] == 200


def test_a_redis_flush_mid_batch_is_recovered_by_resume(
    chaos: ChaosRun, chaos_redis: RedisServer
) -> None:
    batch = quarter_done(chaos)

    chaos_redis.flushall()  # every queued message is gone; resume finds the jobs in the table
    said = chaos.fleet.command("resume", batch)
    chaos.fleet.settle(batch)

    assert chaos.checked("Redis flushed + resume", batch).states["succeeded"] == 200
    # the table is the queue: resume makes the lost messages' jobs due and says how many wait
    # (none, if the dispatcher and the reaper got them all running before the command ran)
    assert re.search(r"resumed, \d+ jobs? to run", said), said
