"""Worker processes killed with SIGKILL, again and again, and restarted: nothing is lost, and
no image is paid for twice except calls a kill cut off."""

import random
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import ChaosFleet, check_invariants, outcome, report
from tests.support.manifests import write_manifest
from tests.support.services import Emulator

pytestmark = pytest.mark.chaos

KILLS = 6


def test_workers_killed_repeatedly_lose_nothing(
    chaos_fleet: ChaosFleet,
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    postgres_url: str,
    chaos_results: Path,
    started: float,
) -> None:
    bucket, s3 = s3_bucket
    manifest = write_manifest(chaos_fleet.cwd / "jobs.jsonl", good=300)
    emulator.configure(latency_s=1.0, jitter_s=1.0)
    chaos_fleet.start(3)
    batch = chaos_fleet.submit(manifest, bucket)

    def killer() -> None:
        rng = random.Random(7)
        for _ in range(KILLS):
            time.sleep(3)
            chaos_fleet.kill_and_restart(rng.randrange(len(chaos_fleet.workers)))

    kills = threading.Thread(target=killer)
    kills.start()
    kills.join()
    chaos_fleet.settle(batch)

    result = outcome("SIGKILL", batch, postgres_url, s3, bucket, emulator, started)
    report(result, chaos_results)
    check_invariants(result, manifest)
    assert result.states["succeeded"] == 300
    assert result.lost > 0  # the kills did cut calls off, and their jobs were put back
