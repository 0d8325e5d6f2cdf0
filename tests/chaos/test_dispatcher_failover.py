"""The fleet's one dispatcher SIGKILLed mid-batch: another worker process takes its turn within
the turn's time to live, keeps sending the jobs waiting in the table, and batches of different
weights still share the fleet by weight through the kill."""

import time
from collections import Counter

import pytest

from tests.chaos.harness import ChaosRun
from tests.support.manifests import write_manifest
from tests.support.processes import wait_until
from worker.tasks import TURN_TTL_S

pytestmark = pytest.mark.chaos

#: slack on top of the turn's time to live for a survivor to take the turn: its next loop (0.25 s)
#: and a loaded machine's scheduling
TAKEOVER_SLACK_S = 4.0


def test_a_killed_dispatcher_holder_is_replaced_and_the_batch_completes(chaos: ChaosRun) -> None:
    batch = chaos.start(jobs=240, workers=3, latency_s=1.0, jitter_s=0.5)
    wait_until(lambda: chaos.table_counts(batch)["succeeded"] >= 30, 90, "30 jobs succeeding")
    holder = chaos.fleet.dispatcher_holder()
    assert holder is not None, "jobs succeed, yet no process holds the dispatcher's turn"
    at_kill = chaos.table_counts(batch)
    assert at_kill["due"] >= 50, f"too few jobs left waiting in the table to watch: {at_kill}"

    chaos.fleet.kill(chaos.fleet.worker_holding(holder))
    killed = time.monotonic()
    wait_until(
        lambda: chaos.fleet.dispatcher_holder() not in (None, holder),
        TURN_TTL_S + TAKEOVER_SLACK_S,
        f"another process taking the dispatcher's turn from the killed {holder}",
    )
    took_over_s = time.monotonic() - killed
    successor = chaos.fleet.dispatcher_holder()
    assert successor is not None
    chaos.fleet.worker_holding(successor)  # a survivor of the fleet, not a stale entry
    at_takeover = chaos.table_counts(batch)
    wait_until(
        lambda: chaos.table_counts(batch)["due"] < at_takeover["due"],
        10,
        f"the new dispatcher {successor} sending jobs waiting in the table ({at_takeover})",
    )
    chaos.fleet.settle(batch)

    result = chaos.checked("dispatcher holder SIGKILLed", batch)
    print(f"turn taken over {took_over_s:.1f} s after the kill; at the kill {dict(at_kill)}")
    assert result.states["succeeded"] == 240
    # what was still waiting in the table at the kill was sent by the successor, and succeeded
    assert at_takeover["due"] > 0


def test_two_batches_share_the_fleet_by_weight_through_a_dispatcher_kill(
    chaos: ChaosRun,
) -> None:
    chaos.emulator.configure(latency_s=1.0, jitter_s=0.5)
    manifests = {
        weight: write_manifest(chaos.fleet.cwd / f"weight-{weight}.jsonl", good=60)
        for weight in ("1", "3")
    }
    # both batches wait in the table before any worker runs: the first turn sees them both
    light, heavy = (
        # --fresh: both manifests ask for the same images, and the shares are of paid calls
        chaos.fleet.submit(manifests[weight], chaos.bucket, "--weight", weight, "--fresh")
        for weight in ("1", "3")
    )
    chaos.fleet.start(2)
    wait_until(
        lambda: (
            chaos.table_counts(light)["succeeded"] + chaos.table_counts(heavy)["succeeded"] >= 12
        ),
        90,
        "12 jobs succeeding",
    )
    holder = chaos.fleet.dispatcher_holder()
    assert holder is not None
    chaos.fleet.kill_and_restart(chaos.fleet.worker_holding(holder))

    light_at, heavy_at = _when_all_sent(chaos, heavy=heavy, light=light, timeout=120)
    chaos.fleet.settle(light)
    chaos.fleet.settle(heavy)

    results = chaos.checked_batches(
        "two weights, dispatcher SIGKILLed", {light: manifests["1"], heavy: manifests["3"]}
    )
    print(
        f"when weight 3 had sent all its jobs: weight 3 {dict(heavy_at)}, weight 1 {dict(light_at)}"
    )
    assert [result.states["succeeded"] for result in results] == [60, 60]
    # while both had jobs waiting, the heavy one was sent about 3 of every 4 messages: by the time
    # it had sent all 60, the light one had sent about 20 (loosely: at most 40) and finished
    # clearly fewer than the heavy one
    assert 60 - light_at["due"] <= 40, f"weight 1 sent {60 - light_at['due']} of its 60 jobs"
    assert light_at["succeeded"] <= 0.75 * heavy_at["succeeded"]


def _when_all_sent(
    chaos: ChaosRun, *, heavy: str, light: str, timeout: float
) -> tuple[Counter[str], Counter[str]]:
    """Both batches' counts at the first moment the heavy one had no job left waiting in the
    table (all sent at least once): the light one must still have had many then."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        heavy_now = chaos.table_counts(heavy)
        light_now = chaos.table_counts(light)
        if heavy_now["due"] == 0:
            return light_now, heavy_now
        time.sleep(0.1)
    raise TimeoutError(f"{heavy} still had jobs waiting in the table after {timeout} s")
