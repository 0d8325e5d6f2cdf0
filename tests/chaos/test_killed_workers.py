"""Worker processes killed with SIGKILL, again and again, and restarted: nothing is lost, and
no image is paid for twice except calls a kill cut off, even when jobs share an image (reuse)."""

import random
import time

import pytest

from tests.chaos.harness import ChaosRun
from tests.support.manifests import write_shared_manifest

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


def test_jobs_sharing_images_with_workers_killed_pay_for_each_image_once(chaos: ChaosRun) -> None:
    chaos.manifest = write_shared_manifest(chaos.fleet.cwd / "shared.jsonl", jobs=150, images=30)
    chaos.emulator.configure(latency_s=1.0, jitter_s=1.0)
    chaos.fleet.start(3)
    batch = chaos.fleet.submit(chaos.manifest, chaos.bucket)
    rng = random.Random(11)
    for _ in range(3):
        time.sleep(3)
        chaos.fleet.kill_and_restart(rng.randrange(len(chaos.fleet.workers)))
    chaos.fleet.settle(batch)

    result = chaos.checked("SIGKILL, 150 jobs sharing 30 images", batch)
    assert result.states["succeeded"] == 150
    assert result.billed <= 30 + result.lost  # each image paid once, but for calls a kill cut
