"""Redis restarted mid-batch (the fleet reconnects by itself), and Redis flushed mid-batch
(`resume` finds every job the queue lost, from the table)."""

from pathlib import Path
from typing import Any

import pytest

from tests.chaos.harness import ChaosFleet, check_invariants, outcome, report
from tests.support.commands import wait_for_final
from tests.support.manifests import write_manifest
from tests.support.processes import wait_until
from tests.support.services import Emulator, RedisServer

pytestmark = pytest.mark.chaos


def test_a_redis_restart_mid_batch_is_survived_without_help(
    chaos_fleet: ChaosFleet,
    chaos_redis: RedisServer,
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
    wait_until(lambda: chaos_fleet.succeeded(batch) >= 50, 60, "a quarter of the batch done")

    chaos_redis.restart(down_s=2)
    chaos_fleet.settle(batch)

    result = outcome("Redis restart", batch, postgres_url, s3, bucket, emulator, started)
    report(result, chaos_results)
    check_invariants(result, manifest)
    assert result.states["succeeded"] == 200


def test_a_redis_flush_mid_batch_is_recovered_by_resume(
    chaos_fleet: ChaosFleet,
    chaos_redis: RedisServer,
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
    wait_until(lambda: chaos_fleet.succeeded(batch) >= 50, 60, "a quarter of the batch done")

    chaos_redis.flushall()
    with pytest.raises(TimeoutError):  # the queue is gone: the batch stalls...
        wait_for_final(batch, chaos_fleet.env, chaos_fleet.cwd, timeout=8)
    said = chaos_fleet.command("resume", batch)  # ...until resume finds its jobs in the table
    chaos_fleet.settle(batch)

    result = outcome("Redis flushed + resume", batch, postgres_url, s3, bucket, emulator, started)
    report(result, chaos_results)
    check_invariants(result, manifest)
    assert result.states["succeeded"] == 200
    assert "jobs enqueued" in said
