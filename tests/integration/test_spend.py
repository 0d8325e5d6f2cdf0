"""Spend is what the provider billed, call by call: a call paid again (a bad image, then `retry`)
is counted, and `status`, the attempts and the worker's metrics agree with the provider's bill.
A real worker, Redis, the table on PostgreSQL and SQLite, and the emulator over HTTP."""

from pathlib import Path

import pytest
import sqlalchemy

from tests.support.commands import cli, submit, wait_for_final
from tests.support.databases import connected
from tests.support.manifests import write_manifest
from tests.support.metrics import scrape, value
from tests.support.processes import CLI, Service, free_port
from tests.support.services import Emulator

pytestmark = pytest.mark.integration

PRICE = 0.05
JOBS = 20


def test_calls_paid_again_are_spend_and_it_agrees_with_the_providers_bill(
    tmp_path: Path, fleet_env: dict[str, str], emulator: Emulator, logs: Path
) -> None:
    # a `non_image` answer is billed, then fails as bad_image; `retry` pays for it again
    emulator.configure(faults={"non_image": 0.3}, seed=5)
    write_manifest(tmp_path / "jobs.jsonl", good=JOBS)
    port = free_port()
    env = {**fleet_env, "SEEDREAM_METRICS_PORT": str(port), "SEEDREAM_METRICS_HOST": "127.0.0.1",
           "SEEDREAM_PRICE_PER_IMAGE": str(PRICE)}  # fmt: skip
    worker = Service([CLI, "worker", "--loglevel", "WARNING"], logs / "worker-spend.log", env)
    try:
        batch, _ = submit("jobs.jsonl", str(tmp_path / "out"), env, tmp_path)
        first = wait_for_final(batch, env, tmp_path)
        assert first["counts"]["failed"] > 0
        emulator.configure(faults={})
        retried = cli(["retry", batch], env, tmp_path)
        assert retried.returncode == 0, retried.stderr
        summary = wait_for_final(batch, env, tmp_path)
        samples = scrape(port)
    finally:
        worker.stop()

    billed = emulator.stats()["billed"]
    assert summary["counts"]["succeeded"] == JOBS
    assert billed > JOBS
    assert summary["spend_usd"] == pytest.approx(billed * PRICE)
    assert value(samples, "seedream_spend_usd_total") == pytest.approx(billed * PRICE)
    with connected(env["SEEDREAM_DATABASE_URL"]) as conn:
        paid_images, log_ids = conn.execute(
            sqlalchemy.text(
                "SELECT SUM(a.images), COUNT(DISTINCT a.log_id) FROM attempts a "
                "JOIN jobs j ON j.id = a.job_id WHERE j.batch_id = :b"
            ),
            {"b": batch},
        ).one()
    assert paid_images == billed
    assert log_ids == billed
