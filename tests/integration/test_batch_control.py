"""Pausing, budgets, cancelling, and a killed worker's jobs, on real parts: `seedream-batch`
processes on Redis, the table on PostgreSQL or SQLite, S3 on moto, the emulator over HTTP."""

import json
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_embedded_run import run_cli
from tests.support.commands import cli, submit, wait_for_final
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service
from tests.support.services import Emulator

pytestmark = pytest.mark.integration

#: short leases and a quick reaper, so a killed worker's jobs are back in seconds
FAST_RECOVERY = {
    "SEEDREAM_LEASE_SECONDS": "3",
    "SEEDREAM_REAPER_INTERVAL_SECONDS": "0.5",
    "SEEDREAM_RETRY_BASE_SECONDS": "0.2",
    "SEEDREAM_RETRY_MAX_SECONDS": "1",
}


@pytest.fixture
def workers(fleet_env: dict[str, str], logs: Path) -> Iterator[Callable[..., Service]]:
    """Starts `seedream-batch worker` processes (with extra settings); all stopped at the end."""
    started: list[Service] = []

    def start(**env: str) -> Service:
        name = f"worker-{secrets.token_hex(2)}.log"
        worker = Service(
            [CLI, "worker", "--loglevel", "INFO"],
            logs / name,
            env={**fleet_env, **FAST_RECOVERY, **env},
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def status(batch: str, env: dict[str, str], cwd: Path) -> dict[str, Any]:
    result = cli(["status", batch, "--json"], env, cwd)
    assert result.returncode == 0, result.stderr
    summary: dict[str, Any] = json.loads(result.stdout)
    return summary


def wait_for_status(
    batch: str, env: dict[str, str], cwd: Path, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        summary = status(batch, env, cwd)
        if done(summary):
            return summary
        time.sleep(0.3)
    raise TimeoutError(f"batch {batch} never got there: {summary}")


def objects(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_bad_token_pauses_the_batch_and_resume_finishes_it_once_fixed(
    tmp_path: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    workers: Callable[..., Service],
) -> None:
    bucket, s3 = s3_bucket
    write_manifest(tmp_path / "jobs.jsonl", good=40)
    emulator.configure(latency_s=0.2)
    wrong = workers(CLOUDFLARE_API_TOKEN="not-the-token")
    batch, _ = submit("jobs.jsonl", f"s3://{bucket}", fleet_env, tmp_path)

    paused = wait_for_status(
        batch, fleet_env, tmp_path, lambda s: s["state"] == "paused" and not s["counts"]["running"]
    )
    assert paused["paused_reason"].startswith("auth: ")
    assert paused["counts"]["failed"] == 0 and paused["counts"]["queued"] == 40
    refused = emulator.stats()["by_status"]["401"]
    assert refused <= 8  # the calls in flight when the first 401 came back, not 40
    wrong.stop()

    workers()  # the right token
    resumed = cli(["resume", batch], fleet_env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "40 jobs enqueued" in resumed.stderr
    summary = wait_for_final(batch, fleet_env, tmp_path)

    assert summary["counts"]["succeeded"] == 40 and summary["state"] == "active"
    assert emulator.stats()["billed"] == 40 and len(objects(s3, bucket)) == 40


def test_a_budget_is_held_across_the_fleet_and_resume_raises_it(
    tmp_path: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    workers: Callable[..., Service],
) -> None:
    bucket, s3 = s3_bucket
    write_manifest(tmp_path / "jobs.jsonl", good=30)
    emulator.configure(latency_s=0.3)
    workers(), workers()
    name = f"budget-{secrets.token_hex(2)}"
    submitted = cli(
        ["submit", "jobs.jsonl", "--out", f"s3://{bucket}", "--batch", name, "--max-cost", "0.3"],
        fleet_env,
        tmp_path,
    )
    assert submitted.returncode == 0, submitted.stderr

    paused = wait_for_status(
        name,
        fleet_env,
        tmp_path,
        lambda s: s["state"] == "paused" and s["counts"]["succeeded"] == 10,
    )
    assert paused["paused_reason"].startswith("budget: 10 images ($0.30")
    assert emulator.stats()["billed"] == 10 and len(objects(s3, bucket)) == 10
    rendered = cli(["status", name], fleet_env, tmp_path).stdout
    assert "PAUSED: budget" in rendered and f"seedream-batch resume {name}" in rendered

    resumed = cli(["resume", name, "--max-images", "30", "--max-cost", "0.9"], fleet_env, tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    summary = wait_for_final(name, fleet_env, tmp_path)

    assert summary["counts"]["succeeded"] == 30
    assert emulator.stats()["billed"] == 30 and len(objects(s3, bucket)) == 30


def test_cancel_stops_queued_jobs_and_leaves_only_whole_images(
    tmp_path: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    workers: Callable[..., Service],
) -> None:
    bucket, s3 = s3_bucket
    write_manifest(tmp_path / "jobs.jsonl", good=60)
    emulator.configure(latency_s=1.0)
    workers(SEEDREAM_CONCURRENCY="4")
    batch, _ = submit("jobs.jsonl", f"s3://{bucket}", fleet_env, tmp_path)
    wait_for_status(batch, fleet_env, tmp_path, lambda s: s["counts"]["succeeded"] >= 4)

    cancelled = cli(["cancel", batch], fleet_env, tmp_path)
    assert cancelled.returncode == 0, cancelled.stderr
    summary = wait_for_final(batch, fleet_env, tmp_path)

    assert summary["state"] == "cancelled" and summary["counts"]["cancelled"] >= 40
    succeeded = summary["counts"]["succeeded"]
    assert succeeded + summary["counts"]["cancelled"] == 60
    assert len(objects(s3, bucket)) == succeeded == emulator.stats()["billed"]


def test_a_killed_workers_job_is_finished_by_another_within_a_lease(
    tmp_path: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    workers: Callable[..., Service],
) -> None:
    bucket, s3 = s3_bucket
    (tmp_path / "one.jsonl").write_text('{"id": "only", "prompt": "one picture", "size": "1K"}\n')
    emulator.configure(latency_s=2.0)
    doomed = workers()
    batch, _ = submit("one.jsonl", f"s3://{bucket}", fleet_env, tmp_path)
    wait_for_status(batch, fleet_env, tmp_path, lambda s: s["counts"]["running"] == 1)
    doomed.stop(signal.SIGKILL)
    killed_at = time.monotonic()

    workers()
    summary = wait_for_final(batch, fleet_env, tmp_path)

    # lease 3 s + reaper 0.5 s + the 2 s call again, with room for a loaded machine
    assert time.monotonic() - killed_at < 15
    assert summary["counts"]["succeeded"] == 1 and objects(s3, bucket) == [f"{batch}/only.jpg"]
    assert emulator.stats()["billed"] <= 2  # the killed call may have been billed


def test_embedded_run_pauses_on_a_bad_token_and_resume_finishes(
    tmp_path: Path, emulator: Emulator
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=10)
    wrong = {**emulator.env(), "CLOUDFLARE_API_TOKEN": "wrong-token"}

    first = run_cli(["run", "jobs.jsonl", "--out", "out", "--batch", "p"], tmp_path, wrong)
    assert first.returncode == 3, first.stderr
    assert "PAUSED: auth: " in first.stdout and "seedream-batch resume p" in first.stdout

    second = run_cli(["resume", "p"], tmp_path, emulator.env())
    assert second.returncode == 0, second.stderr
    assert "succeeded 10" in second.stdout
    assert len(list((tmp_path / "out" / "p").glob("*.jpg"))) == 10
    assert emulator.stats()["billed"] == 10
