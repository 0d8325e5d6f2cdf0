"""AI Gateway's refusals read right by a real fleet: an over-rate 2009 in a healthy fleet is
retried, a bad token and a spent or stuck gateway pause the batch without failing a job.

Real `seedream-batch` workers on Redis, the table, S3 on moto and the emulator over HTTP. The
rule's spans are windows of SEEDREAM_RATE_LIMIT, so a short window keeps these tests fast.
"""

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.commands import cli, wait_for_final
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service
from tests.support.services import Emulator

pytestmark = pytest.mark.integration

#: quick retries, so a refused job is back in well under a second
FAST_RETRIES = {"SEEDREAM_RETRY_BASE_SECONDS": "0.2", "SEEDREAM_RETRY_MAX_SECONDS": "1"}
#: a limit far above what the tests send, with a half-second window: a gateway refusing
#: everything is judged stuck after three windows (1.5 s), not three minutes
SHORT_WINDOW = {"SEEDREAM_RATE_LIMIT": "1000/0.5s"}

Submit = Callable[[int], str]
Status = Callable[[str], dict[str, Any]]


@pytest.fixture
def workers(logs: Path, fleet_env: dict[str, str]) -> Iterator[Callable[..., Service]]:
    started: list[Service] = []

    def start(**env: str) -> Service:
        log = logs / f"worker-{secrets.token_hex(2)}.log"
        worker = Service([CLI, "worker"], log, env={**fleet_env, **FAST_RETRIES, **env})
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def submit(tmp_path: Path, fleet_env: dict[str, str], s3_bucket: tuple[str, Any]) -> Submit:
    def run(jobs: int) -> str:
        write_manifest(tmp_path / "jobs.jsonl", good=jobs)
        batch = f"b-{secrets.token_hex(3)}"
        out = ["--out", f"s3://{s3_bucket[0]}", "--batch", batch]
        result = cli(["submit", "jobs.jsonl", *out], fleet_env, tmp_path)
        assert result.returncode == 0, result.stderr
        return batch

    return run


@pytest.fixture
def status(tmp_path: Path, fleet_env: dict[str, str]) -> Status:
    def read(batch: str) -> dict[str, Any]:
        result = cli(["status", batch, "--json"], fleet_env, tmp_path)
        assert result.returncode == 0, result.stderr
        summary: dict[str, Any] = json.loads(result.stdout)
        return summary

    return read


def wait_paused(status: Status, batch: str, deadline_s: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        summary = status(batch)
        if summary["state"] == "paused" and not summary["counts"]["running"]:
            return summary
        time.sleep(0.3)
    raise TimeoutError(f"batch {batch} never paused: {summary}")


def test_an_over_rate_2009_in_a_healthy_fleet_is_retried_and_the_batch_finishes(
    emulator: Emulator,
    workers: Callable[..., Service],
    submit: Submit,
    fleet_env: dict[str, str],
    tmp_path: Path,
) -> None:
    emulator.configure(latency_s=0.1)
    workers()
    batch = submit(30)
    deadline = time.monotonic() + 60
    while emulator.stats()["billed"] < 5 and time.monotonic() < deadline:
        time.sleep(0.1)

    emulator.inject("over_rate", 3)
    summary = wait_for_final(batch, fleet_env, tmp_path)

    assert summary["state"] == "completed"
    assert summary["counts"]["succeeded"] == 30
    assert emulator.stats()["by_fault"] == {"over_rate": 3}


def test_a_token_refused_from_the_first_call_pauses_the_batch_as_auth(
    emulator: Emulator, workers: Callable[..., Service], submit: Submit, status: Status
) -> None:
    workers(CLOUDFLARE_API_TOKEN="not-the-token")
    batch = submit(10)

    paused = wait_paused(status, batch)

    assert paused["paused_reason"].startswith("auth: gateway default refused the token (2009)")
    assert "CLOUDFLARE_API_TOKEN" in paused["paused_reason"]
    assert paused["counts"]["failed"] == 0
    assert emulator.stats()["billed"] == 0


def test_a_spent_gateway_pauses_the_batch_naming_it_without_failing_a_job(
    emulator: Emulator, workers: Callable[..., Service], submit: Submit, status: Status
) -> None:
    emulator.configure(faults={"spend_limit": 1.0})
    workers()
    batch = submit(10)

    paused = wait_paused(status, batch)

    assert paused["paused_reason"].startswith("quota: gateway default: HTTP 429")
    assert "spend limit" in paused["paused_reason"]
    assert paused["counts"]["failed"] == 0
    assert paused["counts"]["queued"] == 10


def test_a_gateway_refusing_every_call_pauses_the_batch_instead_of_failing_its_jobs(
    emulator: Emulator, workers: Callable[..., Service], submit: Submit, status: Status
) -> None:
    emulator.configure(faults={"gateway_429": 1.0})
    workers(**SHORT_WINDOW, SEEDREAM_MAX_ATTEMPTS="2")
    batch = submit(10)

    paused = wait_paused(status, batch)

    reason = paused["paused_reason"]
    assert reason.startswith("quota: gateway default has refused every call")
    assert "a rate limit set on the gateway below SEEDREAM_RATE_LIMIT" in reason
    assert paused["counts"]["failed"] == 0  # 2 attempts allowed, many more refused: not counted
    assert emulator.stats()["by_status"]["429"] > 2
