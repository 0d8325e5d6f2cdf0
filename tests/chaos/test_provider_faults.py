"""The provider at its worst: 30 % 5xx, 10 % calls that hang past the client's timeout, bursts of
429, malformed bodies, and "images" that are HTML pages. Every failure carries its class, and
`retry` of the transient classes finishes those jobs once the provider recovers."""

import time

import pytest

from tests.chaos.harness import ChaosRun

pytestmark = pytest.mark.chaos

FAULTS = {"server_error": 0.3, "hang": 0.1, "malformed": 0.03, "non_image": 0.03}
TRANSIENT = ("server_error", "timeout", "rate_limited")


def test_provider_faults_end_in_the_right_classes_and_retry_finishes_the_transient(
    chaos: ChaosRun,
) -> None:
    chaos.fleet.env.update(SEEDREAM_API_TIMEOUT_SECONDS="2", SEEDREAM_MAX_ATTEMPTS="3")
    batch = chaos.start(
        jobs=300, workers=2, latency_s=0.3, jitter_s=0.4, faults=FAULTS, hang_s=3.0, seed=11
    )
    for _ in range(3):  # bursts of 429 (the provider out of capacity)
        time.sleep(3)
        chaos.emulator.configure(faults={"capacity": 1.0})
        time.sleep(1.5)
        chaos.emulator.configure(faults=FAULTS)
    chaos.fleet.settle(batch)

    first = chaos.checked("provider faults", batch)
    assert first.attempt_classes["server_error"]
    assert first.attempt_classes["timeout"]
    assert first.attempt_classes["rate_limited"]
    assert first.attempt_classes["bad_image"]
    assert set(first.failed_classes) <= {"bad_image", *TRANSIENT}
    assert first.failed_classes["bad_image"] == first.attempt_classes["bad_image"]

    chaos.emulator.configure(faults={})
    said = chaos.fleet.command("retry", batch, *(f"--class={c}" for c in TRANSIENT))
    chaos.fleet.settle(batch)

    after = chaos.checked("provider faults, then retry", batch)
    assert f"{sum(first.failed_classes[c] for c in TRANSIENT)} failed jobs retried" in said
    assert set(after.failed_classes) <= {"bad_image"}  # every transient failure recovered
    assert after.states["succeeded"] == 300 - after.failed_classes["bad_image"]
