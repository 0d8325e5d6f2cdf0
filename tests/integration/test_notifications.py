"""Webhook notifications on real parts: a local HTTP receiver that checks every signature and
fails its first request, an embedded `run`, and a `worker` process whose batch pauses."""

import json
import time
from pathlib import Path

import pytest

from tests.integration.test_batch_control import FAST_RECOVERY
from tests.integration.test_embedded_run import run_cli
from tests.support.commands import submit
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service
from tests.support.services import Emulator
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.integration

SECRET = "whsec-do-not-print"


def _webhook_env(hook: WebhookReceiver) -> dict[str, str]:
    return {"SEEDREAM_WEBHOOK_URL": hook.url, "SEEDREAM_WEBHOOK_SECRET": SECRET}


def test_an_embedded_run_sends_one_signed_completed_event_retrying_a_500(
    tmp_path: Path, emulator: Emulator
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=6)
    with WebhookReceiver(SECRET, fail_first=1) as hook:
        env = {**emulator.env(), **_webhook_env(hook)}
        result = run_cli(["run", "jobs.jsonl", "--out", "out", "--batch", "hooked"], tmp_path, env)
        time.sleep(1)  # room for a second, wrong, notification to arrive

    assert result.returncode == 0, result.stderr
    assert [r.answered for r in hook.about("hooked")] == [500, 200]  # tried again after the 500
    # the retry is the same delivery: the same id in the header and the signed body
    assert len({(r.delivery, r.body["delivery_id"]) for r in hook.about("hooked")}) == 1
    [delivered] = hook.delivered("hooked")
    assert delivered.delivery == delivered.body["delivery_id"] != ""
    assert delivered.event == "batch.completed"
    assert delivered.signature_ok
    assert delivered.body["event"] == "batch.completed"
    assert delivered.body["batch"]["batch"] == "hooked"
    assert delivered.body["batch"]["counts"]["succeeded"] == 6
    assert SECRET not in result.stdout + result.stderr + json.dumps(delivered.body)


def test_a_batch_a_worker_pauses_on_a_bad_token_sends_one_paused_event(
    tmp_path: Path, logs: Path, fleet_env: dict[str, str], emulator: Emulator
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=20)
    emulator.configure(latency_s=0.2)
    with WebhookReceiver(SECRET, fail_first=1) as hook:
        env = {**fleet_env, **FAST_RECOVERY, **_webhook_env(hook)}
        worker = Service(
            [CLI, "worker", "--loglevel", "INFO"],
            logs / "worker-hooked.log",
            env={**env, "CLOUDFLARE_API_TOKEN": "not-the-token"},
        )
        try:
            batch, _ = submit("jobs.jsonl", str(tmp_path / "out"), env, tmp_path)
            hook.wait_for(batch, timeout=60)
            time.sleep(3)  # six more reaper turns: none may send it again
        finally:
            worker.stop()

    [delivered] = hook.delivered(batch)
    assert delivered.event == "batch.paused"
    assert delivered.signature_ok
    assert delivered.body["batch"]["batch"] == batch
    assert delivered.body["batch"]["paused_reason"].startswith("auth: ")
    assert [r.answered for r in hook.about(batch)] == [500, 200]  # tried again after the 500
    assert SECRET not in worker.output()
