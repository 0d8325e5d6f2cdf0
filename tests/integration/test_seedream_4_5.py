"""A Seedream 4.5 batch end to end: a real worker, Redis, the table on PostgreSQL and SQLite, the
S3 server and the emulator over HTTP. Every image of a multi-image answer is stored under the
job's folder and billed, and the call is the batch's model, whatever the worker is set to."""

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from tests.support.commands import cli, wait_for_final
from tests.support.databases import connected
from tests.support.processes import CLI, Service
from tests.support.services import Emulator

pytestmark = pytest.mark.integration

MODEL = "bytedance/seedream-4.5"
PRICE = 0.04
#: key -> images asked for (4.5 returns up to max_images with `auto`: the emulator picks how many)
ROWS = {"hero": 3, "banner": 2, "single": 1}


def row(key: str, images: int) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": key, "prompt": f"a product shot: {key}", "size": "2K"}
    if images > 1:
        fields |= {"sequential_image_generation": "auto", "max_images": images}
    return fields


def test_a_seedream_4_5_batch_stores_and_bills_every_image_of_each_answer(
    tmp_path: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    logs: Path,
) -> None:
    bucket, s3 = s3_bucket
    (tmp_path / "jobs.jsonl").write_text(
        "".join(json.dumps(row(key, images)) + "\n" for key, images in ROWS.items())
    )
    # the worker is set to 4.0: the batch's model is what is called
    env = {**fleet_env, "SEEDREAM_MODEL": "bytedance/seedream-4.0"}
    worker = Service([CLI, "worker", "--loglevel", "WARNING"], logs / "worker-4-5.log", env)
    try:
        submitted = cli(
            ["submit", "jobs.jsonl", "--out", f"s3://{bucket}/runs", "--batch", "b45",
             "--model", MODEL],
            env,
            tmp_path,
        )  # fmt: skip
        assert submitted.returncode == 0, submitted.stderr
        summary = wait_for_final("b45", env, tmp_path)
    finally:
        worker.stop()

    assert summary["counts"]["succeeded"] == len(ROWS)
    calls = [call for call in emulator.calls() if call["status"] == 200]
    assert {call["model"] for call in calls} == {MODEL}
    answered = {call["metadata"]["key"]: call["images"] for call in calls}
    assert set(answered) == set(ROWS)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="runs/b45/")["Contents"]
    stored = sorted(entry["Key"].removeprefix("runs/b45/") for entry in listed)
    several = [key for key, images in ROWS.items() if images > 1]
    expected = ["single.jpg"] + [f"{key}/{n}.jpg" for key in several for n in range(answered[key])]
    assert stored == sorted(expected)
    billed = emulator.stats()["billed"]
    assert billed == sum(answered.values())
    assert summary["spend_usd"] == pytest.approx(billed * PRICE)
    with connected(env["SEEDREAM_DATABASE_URL"]) as conn:
        kept = conn.execute(
            sqlalchemy.text(
                "SELECT COUNT(*) FROM job_images i JOIN jobs j ON j.id = i.job_id "
                "WHERE j.batch_id = 'b45'"
            )
        ).scalar_one()
        log_ids = set(
            conn.execute(
                sqlalchemy.text("SELECT log_id FROM jobs WHERE batch_id = 'b45'")
            ).scalars()
        )
    assert kept == answered["hero"] + answered["banner"]
    assert log_ids == {call["log_id"] for call in calls}
