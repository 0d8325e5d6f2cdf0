"""Pausing, budgets, cancelling, and a killed worker's jobs, on real parts: `seedream-batch`
processes on Redis, the table on PostgreSQL or SQLite, S3 on moto, the emulator over HTTP."""

import json
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import sqlalchemy

from jobs.database import open_engine
from jobs.redis_keys import JOB_QUEUE
from jobs.results import ResultsTable
from tests.integration.test_embedded_run import run_cli
from tests.support.commands import cli, submit, wait_for_final
from tests.support.databases import connected
from tests.support.dispatching import dispatched
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service, wait_until
from tests.support.services import Emulator
from worker.queue_purge import job_of

pytestmark = pytest.mark.integration

#: short leases and a quick reaper, so a killed worker's jobs are back in seconds
FAST_RECOVERY = {
    "SEEDREAM_LEASE_SECONDS": "3",
    "SEEDREAM_REAPER_INTERVAL_SECONDS": "0.5",
    "SEEDREAM_RETRY_BASE_SECONDS": "0.2",
    "SEEDREAM_RETRY_MAX_SECONDS": "1",
}


@dataclass
class Fleet:
    """Worker processes started on demand, the bucket they write to, and the user's commands."""

    env: dict[str, str]
    cwd: Path
    logs: Path
    bucket: str
    s3: Any
    emulator: Emulator
    workers: list[Service] = field(default_factory=list)

    def start_worker(self, **env: str) -> Service:
        log = self.logs / f"worker-{secrets.token_hex(2)}.log"
        worker = Service(
            [CLI, "worker", "--loglevel", "INFO"], log, env={**self.env, **FAST_RECOVERY, **env}
        )
        self.workers.append(worker)
        return worker

    def submit(self, jobs: int, *options: str) -> str:
        write_manifest(self.cwd / "jobs.jsonl", good=jobs)
        batch = f"b-{secrets.token_hex(3)}"
        out = ["--out", f"s3://{self.bucket}", "--batch", batch, *options]
        self.command("submit", "jobs.jsonl", *out)
        return batch

    def command(self, *args: str) -> str:
        """Run `seedream-batch ARGS`; returns what it printed on stdout and stderr."""
        result = cli(list(args), self.env, self.cwd)
        assert result.returncode == 0, result.stderr
        return result.stdout + result.stderr

    def wait_for(self, batch: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            summary: dict[str, Any] = json.loads(self.command("status", batch, "--json"))
            if done(summary):
                return summary
            time.sleep(0.3)
        raise TimeoutError(f"batch {batch} never got there: {summary}")

    def running(self, batch: str) -> int:
        """The batch's jobs under way, read in the table itself (in milliseconds)."""
        with connected(self.env["SEEDREAM_DATABASE_URL"]) as conn:
            query = "SELECT count(*) FROM jobs WHERE batch_id = :b AND state = 'running'"
            return int(conn.execute(sqlalchemy.text(query), {"b": batch}).scalar_one())

    def ids(self, batch: str, state: str | None = None) -> set[int]:
        """The ids of the batch's jobs (in `state`, if given), read in the table."""
        query = "SELECT id FROM jobs WHERE batch_id = :b" + (" AND state = :s" if state else "")
        with connected(self.env["SEEDREAM_DATABASE_URL"]) as conn:
            return set(conn.execute(sqlalchemy.text(query), {"b": batch, "s": state}).scalars())

    def queued_messages(self, batch: str) -> int:
        """The batch's job messages in the broker's Redis list, where workers take them from."""
        queue = redis.Redis.from_url(self.env["SEEDREAM_BROKER_URL"])
        ours = self.ids(batch)
        messages = cast(list[bytes], queue.lrange(JOB_QUEUE, 0, -1))
        return sum(1 for job in map(job_of, messages) if job is not None and job in ours)

    def objects(self) -> list[str]:
        return [o["Key"] for o in self.s3.list_objects_v2(Bucket=self.bucket).get("Contents", [])]

    def finished_once_each(self, batch: str, jobs: int) -> dict[str, Any]:
        """Wait for the batch to be final, with each of its `jobs` succeeded, paid for once and
        stored once; returns its summary."""
        summary = wait_for_final(batch, self.env, self.cwd)
        assert summary["counts"]["succeeded"] == jobs
        assert self.emulator.stats()["billed"] == jobs
        assert len(self.objects()) == jobs
        return summary


@pytest.fixture
def fleet(
    tmp_path: Path,
    logs: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
) -> Iterator[Fleet]:
    bucket, s3 = s3_bucket
    fleet = Fleet(fleet_env, tmp_path, logs, bucket, s3, emulator)
    yield fleet
    for worker in fleet.workers:
        worker.stop()


def test_a_bad_token_pauses_the_batch_and_resume_finishes_it_once_fixed(fleet: Fleet) -> None:
    fleet.emulator.configure(latency_s=0.2)
    wrong = fleet.start_worker(CLOUDFLARE_API_TOKEN="not-the-token")
    batch = fleet.submit(40)

    paused = fleet.wait_for(batch, lambda s: s["state"] == "paused" and not s["counts"]["running"])
    assert paused["paused_reason"].startswith("auth: ")
    assert paused["counts"]["failed"] == 0
    assert paused["counts"]["queued"] == 40
    refused = fleet.emulator.stats()["by_status"]["401"]
    assert refused <= 8  # the calls in flight when the first 401 came back, not 40
    wrong.stop()

    fleet.start_worker()  # the right token
    assert "40 jobs to run" in fleet.command("resume", batch)

    assert fleet.finished_once_each(batch, 40)["state"] == "completed"


def test_a_budget_is_held_across_the_fleet_and_resume_raises_it(fleet: Fleet) -> None:
    fleet.emulator.configure(latency_s=0.3)
    fleet.start_worker(), fleet.start_worker()
    batch = fleet.submit(30, "--max-cost", "0.3", "--allow-partial")

    paused = fleet.wait_for(
        batch, lambda s: s["state"] == "paused" and s["counts"]["succeeded"] == 10
    )
    assert paused["paused_reason"].startswith("budget: 10 images ($0.30")
    assert fleet.emulator.stats()["billed"] == 10
    assert len(fleet.objects()) == 10
    rendered = fleet.command("status", batch)
    assert "PAUSED: budget" in rendered
    assert f"seedream-batch resume {batch}" in rendered

    fleet.command("resume", batch, "--max-images", "30", "--max-cost", "0.9")

    fleet.finished_once_each(batch, 30)


def test_a_batch_whose_estimate_is_over_its_max_cost_is_refused_before_anything_is_recorded(
    fleet: Fleet,
) -> None:
    write_manifest(fleet.cwd / "jobs.jsonl", good=30, bad=2)
    out = ["--out", f"s3://{fleet.bucket}", "--batch", "too-dear", "--max-cost", "0.89"]

    refused = cli(["submit", "jobs.jsonl", *out], fleet.env, fleet.cwd)

    assert refused.returncode == 2
    assert "its estimate is $0.90 (30 images × $0.03), over --max-cost $0.89: nothing was " in (
        refused.stderr
    )
    assert refused.stderr.count("jobs.jsonl:") == 3  # the two bad rows once each, and the refusal
    assert "no batch named 'too-dear'" in cli(["status", "too-dear"], fleet.env, fleet.cwd).stderr
    assert fleet.objects() == []
    fitting = cli(["submit", "jobs.jsonl", *out[:-1], "0.9"], fleet.env, fleet.cwd)
    assert fitting.returncode == 1, fitting.stderr  # recorded; the two bad rows rejected
    assert fitting.stderr.count("jobs.jsonl:") == 2


def test_cancel_stops_queued_jobs_and_leaves_only_whole_images(fleet: Fleet) -> None:
    # 4 threads at 2 s a call finish 2 jobs a second: starting the `cancel` command (seconds on a
    # slow machine) leaves most of the 60 queued
    fleet.emulator.configure(latency_s=2.0)
    fleet.start_worker(SEEDREAM_CONCURRENCY="4")
    batch = fleet.submit(60)
    fleet.wait_for(batch, lambda s: s["counts"]["succeeded"] >= 4)

    fleet.command("cancel", batch)
    summary = wait_for_final(batch, fleet.env, fleet.cwd)

    assert summary["state"] == "cancelled"
    assert summary["counts"]["cancelled"] >= 40
    succeeded = summary["counts"]["succeeded"]
    assert succeeded + summary["counts"]["cancelled"] == 60
    assert len(fleet.objects()) == succeeded == fleet.emulator.stats()["billed"]


def test_a_killed_workers_job_is_finished_by_another_within_a_lease(fleet: Fleet) -> None:
    fleet.emulator.configure(latency_s=2.0)
    doomed = fleet.start_worker()
    (fleet.cwd / "one.jsonl").write_text('{"id": "only", "prompt": "one picture", "size": "1K"}\n')
    batch, _ = submit("one.jsonl", f"s3://{fleet.bucket}", fleet.env, fleet.cwd)
    # read in the table, not by `status`: a process started per look may miss a 2 s call whole
    wait_until(lambda: fleet.running(batch) == 1, 60, "the doomed worker's call under way")
    doomed.stop(signal.SIGKILL)
    killed_at = time.monotonic()

    fleet.start_worker()
    summary = wait_for_final(batch, fleet.env, fleet.cwd)

    # lease 3 s + reaper 0.5 s + the 2 s call again, with room for a loaded machine
    assert time.monotonic() - killed_at < 15
    assert summary["counts"]["succeeded"] == 1
    assert fleet.objects() == [f"{batch}/only.jpg"]
    assert fleet.emulator.stats()["billed"] <= 2  # the killed call may have been billed


def test_a_message_a_dead_worker_took_is_sent_again_once_the_queue_drains(fleet: Fleet) -> None:
    batch = fleet.submit(3)
    # what a worker SIGKILLed between taking a message and recording it leaves behind: a job the
    # dispatcher sent, whose message is gone
    table = ResultsTable(open_engine(fleet.env["SEEDREAM_DATABASE_URL"]))
    assert len(dispatched(table, window=1)) == 1
    table.engine.dispose()
    taken_at = time.monotonic()

    fleet.start_worker()
    summary = wait_for_final(batch, fleet.env, fleet.cwd)

    assert summary["counts"]["succeeded"] == 3
    assert len(fleet.objects()) == 3
    assert time.monotonic() - taken_at < 20  # lease 3 s + reaper 0.5 s, on a loaded machine
    assert fleet.emulator.stats()["billed"] == 3


def test_embedded_run_pauses_on_a_bad_token_and_resume_finishes(
    tmp_path: Path, emulator: Emulator
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=10)
    wrong = {**emulator.env(), "CLOUDFLARE_API_TOKEN": "wrong-token"}

    # past the preflight, which would refuse the token before recording: a token refused mid-run
    args = ["run", "jobs.jsonl", "--out", "out", "--batch", "p", "--no-preflight"]
    first = run_cli(args, tmp_path, wrong)
    assert first.returncode == 3, first.stderr
    assert "PAUSED: auth: " in first.stdout
    assert "seedream-batch resume p" in first.stdout

    second = run_cli(["resume", "p"], tmp_path, emulator.env())
    assert second.returncode == 0, second.stderr
    assert "succeeded 10" in second.stdout
    assert len(list((tmp_path / "out" / "p").glob("*.jpg"))) == 10
    assert emulator.stats()["billed"] == 10


def test_status_watch_follows_a_batch_until_final_and_the_listing_shows_its_pace(
    fleet: Fleet,
) -> None:
    fleet.emulator.configure(latency_s=0.5)
    fleet.start_worker(SEEDREAM_CONCURRENCY="4")
    batch = fleet.submit(20)

    watched = cli(["status", batch, "--watch"], fleet.env, fleet.cwd)

    assert watched.returncode == 0, watched.stderr
    assert f"batch {batch}: 20 jobs (succeeded 20)" in watched.stdout
    assert "images/s" in watched.stdout
    listing = fleet.command("status")
    assert batch in listing
    assert "img/s" in listing
    assert "ETA" in listing
    [mine] = [s for s in json.loads(cli(["status", "--json"], fleet.env, fleet.cwd).stdout)
              if s["batch"] == batch]  # fmt: skip
    assert mine["images_per_s"] > 0
    assert mine["eta_s"] is None
    assert mine["started_at"]


def test_submit_watch_enqueues_then_follows_the_batch_to_its_end(fleet: Fleet) -> None:
    fleet.start_worker(SEEDREAM_CONCURRENCY="4")
    write_manifest(fleet.cwd / "jobs.jsonl", good=8)
    out = ["--out", f"s3://{fleet.bucket}", "--batch", "watched"]

    submitted = cli(["submit", "jobs.jsonl", *out, "--watch"], fleet.env, fleet.cwd)

    assert submitted.returncode == 0, submitted.stderr
    assert submitted.stdout.strip() == "watched"
    assert "batch watched: 8 jobs (succeeded 8)" in submitted.stderr
    assert "batch watched: jobs queued for the fleet on redis://127.0.0.1:" in submitted.stderr
    assert "no worker has answered" not in submitted.stderr
    assert len(fleet.objects()) == 8


def test_pause_stops_new_jobs_lets_running_ones_finish_and_resume_completes(
    fleet: Fleet,
) -> None:
    # 4 threads at 0.6 s a call: 30 jobs take 4.5 s, time enough to pause on the way
    fleet.emulator.configure(latency_s=0.6)
    fleet.start_worker(SEEDREAM_CONCURRENCY="4")
    batch = fleet.submit(30)
    wait_until(lambda: len(fleet.ids(batch, "running")) >= 2, 30, "jobs under way")
    running_at_pause = fleet.ids(batch, "running")

    assert "paused" in fleet.command("pause", batch)
    # settled: what was running has finished, and no message of the batch waits on Redis
    wait_until(lambda: not fleet.ids(batch, "running"), 15, "the running jobs finishing")
    wait_until(lambda: fleet.queued_messages(batch) == 0, 5, "no message of the batch queued")
    wait_until(lambda: running_at_pause <= fleet.ids(batch, "succeeded"), 10, "stored")
    settled = fleet.emulator.stats()["billed"]
    time.sleep(1.5)  # two calls' time, the worker still taking messages

    held = fleet.wait_for(batch, lambda s: s["state"] == "paused")
    assert fleet.emulator.stats()["billed"] == settled
    assert not held["counts"]["running"]
    assert held["counts"]["queued"] >= 8
    assert held["fleet_share"] == 0
    assert "none while paused" in fleet.command("status", batch)

    fleet.command("resume", batch)

    fleet.finished_once_each(batch, 30)


def test_cancel_leaves_no_message_of_the_batch_on_redis(fleet: Fleet) -> None:
    # one slow thread and a window of 10: most of the window waits on the Redis list
    fleet.emulator.configure(latency_s=2.0)
    fleet.start_worker(SEEDREAM_CONCURRENCY="1", SEEDREAM_DISPATCH_WINDOW="10")
    batch = fleet.submit(30)
    wait_until(lambda: fleet.queued_messages(batch) >= 3, 30, "messages of the batch queued")

    fleet.command("cancel", batch)

    assert fleet.queued_messages(batch) == 0
    summary = wait_for_final(batch, fleet.env, fleet.cwd)
    assert summary["state"] == "cancelled"
    assert summary["counts"]["cancelled"] >= 20
    assert fleet.queued_messages(batch) == 0


def test_a_batch_capped_at_2_in_flight_never_has_more_out_and_its_weight_is_kept(
    fleet: Fleet,
) -> None:
    fleet.emulator.configure(latency_s=0.4)
    fleet.start_worker(SEEDREAM_CONCURRENCY="8")
    batch = fleet.submit(16, "--max-in-flight", "2", "--weight", "3")
    # sent and unclaimed, or under a lease: what the cap counts (jobs.due_jobs.outstanding)
    out = (
        "SELECT count(*) FROM jobs WHERE batch_id = :b AND (lease_expires_at IS NOT NULL"
        " OR (due_at IS NULL AND lease_owner IS NULL AND state IN ('queued', 'generated')))"
    )
    samples: list[int] = []
    with connected(fleet.env["SEEDREAM_DATABASE_URL"]) as conn:
        while len(fleet.ids(batch, "succeeded")) < 16 and len(samples) < 5000:
            samples.append(int(conn.execute(sqlalchemy.text(out), {"b": batch}).scalar_one()))
            conn.commit()
            time.sleep(0.02)

    assert max(samples) == 2  # reached, never passed
    assert fleet.emulator.stats()["max_in_flight"] <= 2
    summary = wait_for_final(batch, fleet.env, fleet.cwd)
    assert summary["counts"]["succeeded"] == 16
    assert (summary["weight"], summary["max_in_flight"]) == (3, 2)
