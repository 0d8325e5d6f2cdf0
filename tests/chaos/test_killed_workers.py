"""Worker processes killed with SIGKILL, again and again, and restarted: nothing is lost, and
no image is paid for twice except calls a kill cut off."""

import random
import time

import pytest

from tests.chaos.harness import ChaosRun

pytestmark = pytest.mark.chaos

KILLS = 6


def test_workers_killed_repeatedly_lose_nothing(chaos: ChaosRun) -> None:
    batch = chaos.start(jobs=300, workers=3, latency_s=1.0, jitter_s=1.0)
    rng = random.Random(7)
    for _ in range(KILLS):
        time.sleep(3)
        chaos.fleet.kill_and_restart(rng.randrange(len(chaos.fleet.workers)))
    chaos.fleet.settle(batch)

    result = chaos.checked("SIGKILL", batch)
    assert result.states["succeeded"] == 300
    assert result.lost > 0  # the kills did cut calls off, and their jobs were put back
