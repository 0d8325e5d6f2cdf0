"""S3 down for a stretch mid-batch: uploads fail and are retried, the API is never called again
for an image already paid for, and `retry` finishes any job that ran out of attempts."""

import time
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import ChaosFleet, check_invariants, outcome, report
from tests.support.manifests import write_manifest
from tests.support.processes import wait_until
from tests.support.services import Emulator
from tests.support.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos

OUTAGE_S = 8


def test_an_s3_outage_costs_no_second_call(
    chaos_fleet: ChaosFleet,
    s3_proxy: TcpProxy,
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    postgres_url: str,
    chaos_results: Path,
    started: float,
) -> None:
    bucket, s3 = s3_bucket
    manifest = write_manifest(chaos_fleet.cwd / "jobs.jsonl", good=200)
    emulator.configure(latency_s=0.5, jitter_s=0.5)
    chaos_fleet.start(2)
    batch = chaos_fleet.submit(manifest, bucket)
    wait_until(lambda: chaos_fleet.succeeded(batch) >= 40, 60, "a fifth of the batch done")

    s3_proxy.down()
    time.sleep(OUTAGE_S)
    s3_proxy.up()
    chaos_fleet.settle(batch)
    during = outcome("S3 down 8 s", batch, postgres_url, s3, bucket, emulator, started)
    if during.failed_classes:  # jobs that used up their attempts in the outage
        assert set(during.failed_classes) == {"storage"}
        chaos_fleet.command("retry", batch, "--class", "storage")
        chaos_fleet.settle(batch)

    result = outcome("S3 down 8 s", batch, postgres_url, s3, bucket, emulator, started)
    report(result, chaos_results)
    check_invariants(result, manifest)
    assert result.states["succeeded"] == 200
    assert result.attempt_classes["storage"] > 0  # the outage was felt...
    assert result.billed == 200  # ...and no image was generated twice
