"""Schedules on real parts: a `seedream-batch beat` process and a `seedream-batch worker` on
Redis, the table on PostgreSQL or SQLite, the manifest and the images on S3 (moto), the emulator.
"""

import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from celery import Celery

from jobs.redis_keys import JOB_QUEUE
from jobs.schedules import Schedule
from tests.support.commands import cli, wait_for_final
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service, wait_until
from tests.support.services import Emulator
from worker.beat import MAX_TICK_INTERVAL_S
from worker.task_names import START_SCHEDULED_BATCH

pytestmark = pytest.mark.integration

#: `* * * * *` fires at the next whole minute: up to 60 s, plus beat's start on a loaded machine
FIRST_FIRE_WAIT_S = 90


def _scheduled_batches(env: dict[str, str], cwd: Path, prefix: str = "minutely-") -> list[str]:
    listing = cli(["status", "--json"], env, cwd)
    if listing.returncode == 2 and "no results table" in listing.stderr:
        return []  # the worker has not made the table yet, and status makes none
    assert listing.returncode == 0, listing.stderr
    return [s["batch"] for s in json.loads(listing.stdout) if s["batch"].startswith(prefix)]


def test_beat_fires_a_schedule_and_a_worker_makes_its_batch_under_the_fire_times_name(
    tmp_path: Path,
    logs: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
) -> None:
    bucket, s3 = s3_bucket
    write_manifest(tmp_path / "jobs.jsonl", good=5)
    s3.upload_file(str(tmp_path / "jobs.jsonl"), bucket, "manifests/jobs.jsonl")
    (tmp_path / "schedules.yaml").write_text(
        "- name: minutely\n"
        '  cron: "* * * * *"\n'
        f"  manifest: s3://{bucket}/manifests/jobs.jsonl\n"
        f"  output: s3://{bucket}/images\n"
        '  batch: "minutely-{date:%Y%m%d-%H%M}"\n'
        "  max_images: 50\n"
    )
    env = {**fleet_env, "SEEDREAM_SCHEDULES_FILE": str(tmp_path / "schedules.yaml"),
           "SEEDREAM_BEAT_STATE_FILE": str(tmp_path / "beat-state"),
           "SEEDREAM_MANIFEST_ROOTS": f"s3://{bucket}/manifests",
           "SEEDREAM_OUTPUT_ROOTS": f"s3://{bucket}/images"}  # fmt: skip
    started = datetime.now(UTC).replace(second=0, microsecond=0)
    worker = Service([CLI, "worker", "--loglevel", "INFO"], logs / "worker-sched.log", env=env)
    beat = Service([CLI, "beat", "--loglevel", "INFO"], logs / "beat.log", env=env, cwd=tmp_path)
    try:
        deadline = time.monotonic() + FIRST_FIRE_WAIT_S
        while not (made := _scheduled_batches(env, tmp_path)) and time.monotonic() < deadline:
            time.sleep(1)
        assert made, f"no scheduled batch within {FIRST_FIRE_WAIT_S} s: {beat.output()[-2000:]}"
        first = sorted(made)[0]
        summary = wait_for_final(first, env, tmp_path)
        listed = cli(["schedules"], env, tmp_path)
        heartbeat_age_s = time.time() - (tmp_path / "beat-state.alive").stat().st_mtime
    finally:
        beat.stop()
        worker.stop()

    fired = datetime.strptime(first, "minutely-%Y%m%d-%H%M").replace(tzinfo=UTC)
    assert started <= fired <= datetime.now(UTC)
    assert summary["counts"]["succeeded"] == 5
    assert summary["image_cap"] == 50
    images = s3.list_objects_v2(Bucket=bucket, Prefix=f"images/{first}/")["Contents"]
    assert len(images) == 5
    assert heartbeat_age_s < MAX_TICK_INTERVAL_S  # what compose's health check asks
    assert "Sending due task minutely (seedream.start_scheduled_batch)" in beat.output()
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"minutely .* \* \* \* \* \* .* UTC .* \(in [\dms ]+\)", listed.stdout)
    assert "(completed)" in listed.stdout or "(running)" in listed.stdout  # a later fire may run


def test_a_worker_refuses_a_forged_fire_naming_a_manifest_outside_its_roots(
    tmp_path: Path, fleet_env: dict[str, str]
) -> None:
    """Anyone who can write to Redis can send the task beat sends: a worker makes the batch only
    from a manifest under SEEDREAM_MANIFEST_ROOTS (default: its working folder)."""
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    work.mkdir()
    elsewhere.mkdir()
    write_manifest(work / "jobs.jsonl", good=2)
    write_manifest(elsewhere / "jobs.jsonl", good=2)
    env = {**fleet_env, "SEEDREAM_OUTPUT": str(work / "out")}
    fired_at = datetime(2026, 6, 1, 9, 0, tzinfo=UTC).isoformat()
    worker = Service([CLI, "worker", "--loglevel", "INFO"], tmp_path / "worker.log", env, work)
    try:
        with Celery(broker=fleet_env["SEEDREAM_BROKER_URL"]) as sender:
            for name, manifest in (("outside", elsewhere / "jobs.jsonl"), ("inside", "jobs.jsonl")):
                schedule = Schedule(name=name, cron="0 9 * * *", manifest=str(manifest),
                                    batch=f"{name}-{{date:%Y-%m-%d}}")  # fmt: skip
                fire = {"schedule": schedule.model_dump(mode="json"), "fired_at": fired_at}
                sender.send_task(START_SCHEDULED_BATCH, kwargs=fire, queue=JOB_QUEUE)
        wait_until(lambda: "inside: batch inside-2026-06-01 started" in worker.output(), 60,
                   "the fire inside the roots")  # fmt: skip
        made = [b for b in _scheduled_batches(env, work, prefix="") if b.endswith("-2026-06-01")]
    finally:
        worker.stop()

    assert made == ["inside-2026-06-01"]
    assert "schedule outside: refused the run" in worker.output()
    assert f"{str(elsewhere / 'jobs.jsonl')!r} is not under SEEDREAM_MANIFEST_ROOTS (.)" in (
        worker.output()
    )


def test_a_bad_schedule_file_stops_beat_and_schedules_with_one_line(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    (tmp_path / "schedules.yaml").write_text(
        "- name: weekly\n  cron: '0 6 * * 8'\n  manifest: m.jsonl\n  output: out\n"
        "  batch: 'weekly-{date:%Y-%m-%d}'\n"
    )
    env = {
        **child_env,
        "SEEDREAM_SCHEDULES_FILE": "schedules.yaml",
        "SEEDREAM_BROKER_URL": "redis://127.0.0.1:1/0",  # never reached: the file comes first
        "SEEDREAM_DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}",
    }

    for command in ("beat", "schedules"):
        result = cli([command], env, tmp_path)

        assert result.returncode == 2
        assert result.stderr.startswith(
            "error: schedules.yaml: schedule 'weekly' (#1): cron: '0 6 * * 8' is not a cron "
            "expression"
        )
        assert len(result.stderr.strip().splitlines()) == 1
