"""The provider at its worst: 30 % 5xx, 10 % calls that hang past the client's timeout, bursts of
429, malformed bodies, and "images" that are HTML pages. Every failure carries its class, and
`retry` of the transient classes finishes those jobs once the provider recovers."""

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import ChaosFleet, check_invariants, outcome, report
from tests.support.manifests import write_manifest
from tests.support.services import Emulator

pytestmark = pytest.mark.chaos

FAULTS = {"server_error": 0.3, "hang": 0.1, "malformed": 0.03, "non_image": 0.03}
TRANSIENT = ("server_error", "timeout", "rate_limited")


def test_provider_faults_end_in_the_right_classes_and_retry_finishes_the_transient(
    chaos_fleet: ChaosFleet,
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    postgres_url: str,
    chaos_results: Path,
    started: float,
) -> None:
    bucket, s3 = s3_bucket
    manifest = write_manifest(chaos_fleet.cwd / "jobs.jsonl", good=300)
    emulator.configure(latency_s=0.3, jitter_s=0.4, faults=FAULTS, hang_s=3.0, seed=11)
    chaos_fleet.env.update(SEEDREAM_API_TIMEOUT="2", SEEDREAM_MAX_ATTEMPTS="3")
    chaos_fleet.start(2)
    batch = chaos_fleet.submit(manifest, bucket)

    def bursts_of_429() -> None:
        for _ in range(3):
            time.sleep(3)
            emulator.configure(faults={"capacity": 1.0})
            time.sleep(1.5)
            emulator.configure(faults=FAULTS)

    bursts = threading.Thread(target=bursts_of_429)
    bursts.start()
    bursts.join()
    chaos_fleet.settle(batch)

    first = outcome("provider faults", batch, postgres_url, s3, bucket, emulator, started)
    report(first, chaos_results)
    check_invariants(first, manifest)
    assert first.attempt_classes["server_error"] and first.attempt_classes["timeout"]
    assert first.attempt_classes["rate_limited"] and first.attempt_classes["bad_image"]
    assert set(first.failed_classes) <= {"bad_image", *TRANSIENT}
    assert first.failed_classes["bad_image"] == first.attempt_classes["bad_image"]

    emulator.configure(faults={})
    said = chaos_fleet.command("retry", batch, *(f"--class={c}" for c in TRANSIENT))
    chaos_fleet.settle(batch)

    after = outcome(
        "provider faults, then retry", batch, postgres_url, s3, bucket, emulator, started
    )
    report(after, chaos_results)
    check_invariants(after, manifest)
    assert f"{sum(first.failed_classes[c] for c in TRANSIENT)} failed jobs retried" in said
    assert set(after.failed_classes) <= {"bad_image"}  # every transient failure recovered
    assert after.states["succeeded"] == 300 - after.failed_classes["bad_image"]
