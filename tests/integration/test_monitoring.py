"""What a fleet shows its operators: a worker's /metrics agrees with the table and the provider,
and its Celery events (what Flower reads) announce the worker and each job."""

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy
from celery import Celery
from celery.events.receiver import EventReceiver

from tests.support.commands import submit, wait_for_final
from tests.support.databases import connected
from tests.support.manifests import write_manifest
from tests.support.metrics import scrape, value
from tests.support.processes import CLI, Service, free_port, wait_until
from tests.support.services import Emulator

pytestmark = pytest.mark.integration


def test_a_workers_metrics_agree_with_the_results_table_and_the_provider(
    tmp_path: Path, fleet_env: dict[str, str], emulator: Emulator, logs: Path
) -> None:
    # some calls refused with 429 (retried), some refused for good by moderation
    emulator.configure(faults={"capacity": 0.15, "content_policy": 0.1}, seed=11)
    write_manifest(tmp_path / "jobs.jsonl", good=30)
    port = free_port()
    env = {**fleet_env, "SEEDREAM_METRICS_PORT": str(port), "SEEDREAM_METRICS_HOST": "127.0.0.1",
           "SEEDREAM_RETRY_BASE_SECONDS": "0.2"}  # fmt: skip
    worker = Service([CLI, "worker", "--loglevel", "WARNING"], logs / "worker-metrics.log", env)
    try:
        batch, _ = submit("jobs.jsonl", str(tmp_path / "out"), env, tmp_path)
        summary = wait_for_final(batch, env, tmp_path)

        def all_counted() -> bool:  # a job's metrics are recorded just after its row
            finished = "seedream_jobs_finished_total"
            return sum(v for (name, _), v in scrape(port).items() if name == finished) == 30

        wait_until(all_counted, 10, "every finished job counted")
        samples = scrape(port)
    finally:
        worker.stop()

    counts = summary["counts"]
    refused = counts["failed"]
    assert counts["succeeded"] + refused == 30
    assert refused > 0
    finished = "seedream_jobs_finished_total"
    assert value(samples, finished, state="succeeded", error_class="") == counts["succeeded"]
    assert value(samples, finished, state="failed", error_class="content_policy") == refused
    assert value(samples, "seedream_spend_usd_total") == pytest.approx(summary["spend_usd"])
    with connected(env["SEEDREAM_DATABASE_URL"]) as conn:
        stored = conn.execute(
            sqlalchemy.text("SELECT SUM(bytes) FROM jobs WHERE batch_id = :b"), {"b": batch}
        ).scalar_one()
    assert value(samples, "seedream_stored_bytes_total") == stored
    provider = emulator.stats()
    assert value(samples, "seedream_api_call_seconds_count") == provider["requests"]
    assert value(samples, "seedream_limiter_wait_seconds_count") == provider["requests"]
    rate_limited = provider["by_status"].get("429", 0)
    assert rate_limited > 0
    assert value(samples, "seedream_rate_limited_total") == rate_limited
    assert (
        value(samples, "seedream_attempts_failed_total", error_class="rate_limited") == rate_limited
    )


class EventLog(EventReceiver):
    """Captures the fleet's Celery events from a thread, as Flower does, until closed."""

    def __init__(self, app: Celery, connection: Any) -> None:
        super().__init__(connection, handlers={"*": self._keep}, app=app)
        self.events: list[dict[str, Any]] = []
        self.listening = threading.Event()

    def _keep(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def on_consume_ready(self, *args: Any, **kwargs: Any) -> None:
        super().on_consume_ready(*args, **kwargs)
        self.listening.set()

    def types(self) -> set[str]:
        return {event["type"] for event in list(self.events)}


@contextmanager
def event_log(broker_url: str) -> Iterator[EventLog]:
    with Celery(broker=broker_url) as app, app.connection_for_read() as connection:
        log = EventLog(app, connection)
        capture = threading.Thread(target=log.capture, daemon=True)
        capture.start()
        assert log.listening.wait(10), "the event receiver never started"
        try:
            yield log
        finally:
            log.should_stop = True
            capture.join(10)


def test_a_worker_announces_itself_and_each_job_in_celery_events_as_flower_needs(
    tmp_path: Path, fleet_env: dict[str, str], logs: Path
) -> None:
    (tmp_path / "one.jsonl").write_text('{"id": "only", "prompt": "one picture", "size": "1K"}\n')
    with event_log(fleet_env["SEEDREAM_BROKER_URL"]) as log:
        worker = Service([CLI, "worker", "--loglevel", "WARNING"], logs / "worker-events.log",
                         fleet_env)  # fmt: skip
        try:
            wait_until(lambda: "worker-online" in log.types(), 30, "worker-online event")
            batch, _ = submit("one.jsonl", str(tmp_path / "out"), fleet_env, tmp_path)
            wait_for_final(batch, fleet_env, tmp_path)
            wait_until(lambda: "task-succeeded" in log.types(), 10, "task-succeeded event")
            wait_until(lambda: "worker-heartbeat" in log.types(), 10, "worker-heartbeat event")
        finally:
            worker.stop()
        wait_until(lambda: "worker-offline" in log.types(), 10, "worker-offline event")

    received = [e for e in log.events if e["type"] == "task-received"]
    assert [e["name"] for e in received] == ["seedream.process_job"]
    succeeded = [e for e in log.events if e["type"] == "task-succeeded"]
    assert [e["uuid"] for e in succeeded] == [received[0]["uuid"]]
    assert {"task-started", "task-succeeded"} <= log.types()


def test_task_events_reach_flower_in_a_few_messages_a_second_not_one_each(
    tmp_path: Path, fleet_env: dict[str, str], logs: Path
) -> None:
    """Each job's three task events all arrive, but a worker publishes them in batches (its
    consumer would otherwise spend a third of its CPU on one Redis PUBLISH per event)."""
    write_manifest(tmp_path / "jobs.jsonl", good=40)
    broker = redis.Redis.from_url(fleet_env["SEEDREAM_BROKER_URL"])
    with event_log(fleet_env["SEEDREAM_BROKER_URL"]) as log:
        worker = Service([CLI, "worker", "--loglevel", "WARNING"], logs / "worker-batched.log",
                         fleet_env)  # fmt: skip
        try:
            wait_until(lambda: "worker-online" in log.types(), 30, "worker-online event")
            publishes_before = publishes(broker)
            batch, _ = submit("jobs.jsonl", str(tmp_path / "out"), fleet_env, tmp_path)
            wait_for_final(batch, fleet_env, tmp_path)

            def every_job_succeeded() -> bool:
                succeeded: int = sum(e["type"] == "task-succeeded" for e in list(log.events))
                return succeeded == 40

            wait_until(every_job_succeeded, 10, "a task-succeeded event for every job")
            published = publishes(broker) - publishes_before
        finally:
            worker.stop()

    task_events = [e for e in log.events if e["type"].startswith("task-")]
    for kind in ("task-received", "task-started", "task-succeeded"):
        assert sum(e["type"] == kind for e in task_events) == 40, kind
    assert published < len(task_events) / 3


def publishes(broker: redis.Redis) -> int:
    """How many PUBLISH commands the broker has served."""
    return int(broker.info("commandstats").get("cmdstat_publish", {}).get("calls", 0))
