"""Distributed mode: `submit` on Redis, two `worker` processes, PostgreSQL table, S3 bucket."""

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
import sqlalchemy
from celery import Celery
from PIL import Image

from jobs.redis_keys import JOB_QUEUE
from tests.support.commands import cli, submit, wait_for_final
from tests.support.databases import connected
from tests.support.manifests import write_manifest
from tests.support.processes import CLI, Service
from tests.support.services import Emulator

pytestmark = pytest.mark.integration


@pytest.fixture
def two_workers(fleet_env: dict[str, str], logs: Path) -> Iterator[list[Service]]:
    workers = [
        Service([CLI, "worker", "--loglevel", "WARNING"], logs / f"worker-{n}.log", env=fleet_env)
        for n in range(2)
    ]
    yield workers
    for worker in workers:
        worker.stop()


@pytest.mark.usefixtures("two_workers")
def test_submit_and_two_workers_store_190_images_in_s3_and_bill_190_calls(
    tmp_path: Path, fleet_env: dict[str, str], s3_bucket: tuple[str, Any], emulator: Emulator
) -> None:
    bucket, s3 = s3_bucket
    manifest = write_manifest(tmp_path / "jobs.jsonl", good=190, bad=10)
    emulator.configure(latency_s=0.2, jitter_s=0.1)

    batch, reported = submit("jobs.jsonl", f"s3://{bucket}/runs", fleet_env, tmp_path, 1)
    summary = wait_for_final(batch, fleet_env, tmp_path)

    assert summary["counts"]["succeeded"] == 190
    assert summary["rejected"] == 10
    assert f"batch {batch}: 190 jobs queued, 10 rows rejected in " in reported
    for line, field in manifest.bad_lines.items():
        assert f"jobs.jsonl:{line}: {field}:" in reported
    objects = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{batch}/")["Contents"]
    assert len(objects) == 190
    for entry in objects[:20]:
        obj = s3.get_object(Bucket=bucket, Key=entry["Key"])
        assert obj["ContentType"] == "image/jpeg"
        assert obj["Metadata"]["batch"] == batch
        key = entry["Key"].removeprefix(f"runs/{batch}/").removesuffix(".jpg")
        assert Image.open(io.BytesIO(obj["Body"].read())).size == manifest.expected_sizes[key]
    assert emulator.stats()["billed"] == 190


@pytest.mark.usefixtures("two_workers")
def test_variants_are_a_call_each_stored_under_the_row_key_and_exported_with_their_number(
    tmp_path: Path, fleet_env: dict[str, str], s3_bucket: tuple[str, Any], emulator: Emulator
) -> None:
    bucket, s3 = s3_bucket
    rows = [
        {"id": "mug", "prompt": "a ceramic mug", "caption": "mug"},
        {"id": "fox", "prompt": "a red fox", "variants": 1},
        {"id": "lamp", "prompt": "a desk lamp", "variants": 3, "size": "1K"},
    ]
    (tmp_path / "jobs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))

    batch, _ = submit(
        "jobs.jsonl", f"s3://{bucket}/runs", fleet_env, tmp_path, 0, ["--variants", "2"]
    )
    summary = wait_for_final(batch, fleet_env, tmp_path)

    keys = ["mug/1", "mug/2", "fox", "lamp/1", "lamp/2", "lamp/3"]
    assert summary["counts"]["succeeded"] == 6
    assert emulator.stats()["billed"] == 6
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{batch}/")["Contents"]
    assert sorted(entry["Key"] for entry in listed) == sorted(
        f"runs/{batch}/{key}.jpg" for key in keys
    )
    exported = cli(["export", batch, "--format", "jsonl", "--to", "exports"], fleet_env, tmp_path)
    assert exported.returncode == 0, exported.stderr
    exports = tmp_path / "exports" / f"{batch}.jsonl"
    lines = [json.loads(line) for line in exports.read_text().splitlines()]
    assert [(line["key"], line["variant"]) for line in lines] == [
        ("mug/1", 1), ("mug/2", 2), ("fox", None), ("lamp/1", 1), ("lamp/2", 2), ("lamp/3", 3),
    ]  # fmt: skip
    assert [line["metadata"] for line in lines[:2]] == [{"caption": "mug"}] * 2
    again = cli(["submit", "jobs.jsonl", "--out", f"s3://{bucket}/runs", "--batch", batch,
                 "--variants", "3"], fleet_env, tmp_path)  # fmt: skip
    assert again.returncode == 2
    assert f"batch {batch!r} was recorded with --variants 2" in again.stderr


@pytest.mark.usefixtures("two_workers")
def test_a_campaign_matrix_with_variants_lands_with_its_keys_metadata_and_sizes(
    tmp_path: Path, fleet_env: dict[str, str], s3_bucket: tuple[str, Any], emulator: Emulator
) -> None:
    bucket, s3 = s3_bucket
    (tmp_path / "products.csv").write_text("sku,name,variants\nA1,red shoe,\nB2,blue hat,1\nC3,,\n")
    (tmp_path / "campaign.yaml").write_text(
        "data: products.csv\n"
        'prompt: "a {name}, {style} style"\n'
        'id: "{sku}/{aspect_ratio}-{style}"\n'
        "vary:\n"
        '  aspect_ratio: ["1:1", "9:16"]\n'
        "  style: [photo, sketch]\n"
        "fixed: {size: 1K}\n"
        "variants: 2\n"
    )

    no_broker = {**fleet_env, "SEEDREAM_BROKER_URL": "redis://127.0.0.1:1/0"}  # nothing listens
    dry = cli(["submit", "campaign.yaml", "--dry-run", "--out", f"s3://{bucket}/runs"],
              no_broker, tmp_path)  # fmt: skip
    assert dry.returncode == 1, dry.stderr
    assert "campaign.yaml: 12 jobs from the valid rows, 1 row rejected; nothing was" in dry.stdout
    assert "about $0.36 for the provider (12 × $0.03)" in dry.stdout
    assert _batches(fleet_env["SEEDREAM_DATABASE_URL"]) == 0
    assert redis.Redis.from_url(fleet_env["SEEDREAM_BROKER_URL"]).llen(JOB_QUEUE) == 0
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert emulator.stats()["billed"] == 0

    batch, reported = submit("campaign.yaml", f"s3://{bucket}/runs", fleet_env, tmp_path, 1)
    summary = wait_for_final(batch, fleet_env, tmp_path)

    assert "products.csv:4: name: is empty or not given, and the prompt template reads it" in (
        reported
    )
    combinations = ["1-1-photo", "1-1-sketch", "9-16-photo", "9-16-sketch"]
    keys = [f"A1/{c}/{n}" for c in combinations for n in (1, 2)] + [f"B2/{c}" for c in combinations]
    assert summary["counts"]["succeeded"] == 12
    assert summary["rejected"] == 1
    assert emulator.stats()["billed"] == 12
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{batch}/")["Contents"]
    assert sorted(entry["Key"] for entry in listed) == sorted(
        f"runs/{batch}/{key}.jpg" for key in keys
    )
    tall = s3.get_object(Bucket=bucket, Key=f"runs/{batch}/B2/9-16-sketch.jpg")["Body"].read()
    width, height = Image.open(io.BytesIO(tall)).size
    assert height > width
    exported = cli(["export", batch, "--format", "jsonl", "--to", "exports"], fleet_env, tmp_path)
    assert exported.returncode == 0, exported.stderr
    exports = (tmp_path / "exports" / f"{batch}.jsonl").read_text()
    lines = [json.loads(line) for line in exports.splitlines()]
    assert [line["key"] for line in lines] == keys
    assert [line["variant"] for line in lines[:2]] == [1, 2]
    assert lines[0]["prompt"] == "a red shoe, photo style"
    assert lines[0]["metadata"] == {"sku": "A1", "name": "red shoe", "style": "photo"}
    assert lines[-1]["metadata"] == {"sku": "B2", "name": "blue hat", "style": "sketch"}

    # next week: B2 renamed, C3 fixed; A1 unchanged. Only the changed products' images are paid
    (tmp_path / "products.csv").write_text(
        "sku,name,variants\nA1,red shoe,\nB2,green hat,1\nC3,lamp,1\n"
    )
    week_2, _ = submit("campaign.yaml", f"s3://{bucket}/runs", fleet_env, tmp_path)
    second = wait_for_final(week_2, fleet_env, tmp_path)
    assert emulator.stats()["billed"] == 12 + 4 + 4  # B2's and C3's four combinations each
    assert (second["counts"]["succeeded"], second["reused"]) == (16, 8)  # A1's eight copied


@pytest.mark.usefixtures("two_workers")
def test_a_re_run_copies_every_unchanged_image_and_pays_only_for_the_changes(
    tmp_path: Path, fleet_env: dict[str, str], s3_bucket: tuple[str, Any], emulator: Emulator
) -> None:
    bucket, s3 = s3_bucket
    rows = [{"id": f"sku-{n}", "prompt": f"product {n} on oak", "size": "1K"} for n in range(20)]
    rows += [
        {"id": "twin-a", "prompt": "one image twice"},
        {"id": "twin-b", "prompt": "one image twice"},
    ]
    (tmp_path / "week.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    emulator.configure(latency_s=1.0)  # the twins run at once: one pays, the other waits

    first, _ = submit("week.jsonl", f"s3://{bucket}/runs", fleet_env, tmp_path)
    wait_for_final(first, fleet_env, tmp_path)
    assert emulator.stats()["billed"] == 21  # the twins paid once

    for row in rows[:5]:
        row["prompt"] += ", new label"
    (tmp_path / "week.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    dry = cli(["submit", "week.jsonl", "--dry-run"], fleet_env, tmp_path)
    assert "17 jobs of 22 would copy an image already paid for" in dry.stdout, dry.stdout
    second, _ = submit("week.jsonl", f"s3://{bucket}/runs", fleet_env, tmp_path)
    summary = wait_for_final(second, fleet_env, tmp_path)

    assert emulator.stats()["billed"] == 21 + 5
    assert (summary["counts"]["succeeded"], summary["reused"]) == (22, 17)
    assert summary["saved_usd"] == pytest.approx(17 * 0.03)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"runs/{second}/")["Contents"]
    assert len(listed) == 22
    copied = s3.head_object(Bucket=bucket, Key=f"runs/{second}/sku-9.jpg")
    assert copied["ContentType"] == "image/jpeg"
    assert copied["Metadata"]["batch"] == second
    status = cli(["status", second], fleet_env, tmp_path)
    assert "reused: 17 jobs copied an image already paid for, saving $0.51" in status.stdout


def test_a_hostile_template_is_refused_and_nothing_is_recorded(
    tmp_path: Path, fleet_env: dict[str, str], s3_bucket: tuple[str, Any]
) -> None:
    bucket, _ = s3_bucket
    (tmp_path / "campaign.yaml").write_text(
        'data: [{sku: A1}]\nprompt: "{sku.__class__.__mro__}"\n'
    )

    refused = cli(["submit", "campaign.yaml", "--out", f"s3://{bucket}", "--batch", "hostile"],
                  fleet_env, tmp_path)  # fmt: skip

    assert refused.returncode == 2
    assert "campaign.yaml: prompt: '{sku.__class__.__mro__}' is not a placeholder" in (
        refused.stderr
    )
    status = cli(["status", "hostile"], fleet_env, tmp_path)
    assert "no batch named 'hostile'" in status.stderr


@pytest.mark.usefixtures("two_workers")
def test_a_message_delivered_four_times_calls_the_api_once(
    tmp_path: Path, fleet_env: dict[str, str], s3_bucket: tuple[str, Any], emulator: Emulator
) -> None:
    bucket, s3 = s3_bucket
    (tmp_path / "one.jsonl").write_text('{"id": "only", "prompt": "one picture", "size": "1K"}\n')
    emulator.configure(latency_s=1.5)
    batch, _ = submit("one.jsonl", f"s3://{bucket}", fleet_env, tmp_path)

    job_id = _job_id(fleet_env["SEEDREAM_DATABASE_URL"], batch)
    with Celery(broker=fleet_env["SEEDREAM_BROKER_URL"]) as producer:
        for _ in range(3):
            producer.send_task("seedream.process_job", args=[job_id], queue="seedream")
    summary = wait_for_final(batch, fleet_env, tmp_path)
    time.sleep(2)  # let every duplicate delivery be consumed

    assert summary["counts"]["succeeded"] == 1
    assert emulator.stats()["billed"] == 1
    assert len(s3.list_objects_v2(Bucket=bucket)["Contents"]) == 1


def test_a_submitted_batch_waits_in_the_table_and_a_worker_runs_it_in_manifest_order(
    tmp_path: Path,
    fleet_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    logs: Path,
) -> None:
    bucket, _ = s3_bucket
    write_manifest(tmp_path / "jobs.jsonl", good=12)
    batch, _ = submit("jobs.jsonl", f"s3://{bucket}", fleet_env, tmp_path)
    queue = redis.Redis.from_url(fleet_env["SEEDREAM_BROKER_URL"])
    assert queue.llen(JOB_QUEUE) == 0  # the backlog is in the table: no worker, no dispatcher

    one_thread = {**fleet_env, "SEEDREAM_CONCURRENCY": "1"}
    worker = Service([CLI, "worker", "--loglevel", "WARNING"], logs / "worker-fifo.log", one_thread)
    try:
        summary = wait_for_final(batch, fleet_env, tmp_path)
    finally:
        worker.stop()

    assert summary["counts"]["succeeded"] == 12
    with connected(fleet_env["SEEDREAM_DATABASE_URL"]) as conn:
        started = conn.execute(
            sqlalchemy.text(
                "SELECT jobs.line FROM attempts JOIN jobs ON jobs.id = attempts.job_id "
                "WHERE jobs.batch_id = :b ORDER BY attempts.started_at"
            ),
            {"b": batch},
        ).scalars()
        assert list(started) == list(range(1, 13))


def _batches(database_url: str) -> int:
    """How many batches the table holds (none when the workers have not made it yet)."""
    with connected(database_url) as conn:
        if not sqlalchemy.inspect(conn).has_table("batches"):
            return 0
        return cast(int, conn.execute(sqlalchemy.text("SELECT count(*) FROM batches")).scalar())


def _job_id(database_url: str, batch: str) -> int:
    with connected(database_url) as conn:
        job_id = conn.execute(
            sqlalchemy.text("SELECT id FROM jobs WHERE batch_id = :b"), {"b": batch}
        ).scalar_one()
        return cast(int, job_id)
