"""`seedream-batch export`: a batch run for real, exported in every format, to a folder and to S3,
and read back with the tools a training pipeline uses (pyarrow, csv, Hugging Face `datasets`,
tarfile and `webdataset`)."""

import base64
import csv
import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest
from PIL import Image
from webdataset.tariterators import (  # type: ignore[import-untyped]  # no hints, no stubs
    group_by_keys,
    tar_file_expander,
)

from jobs.database import open_engine
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.results import ResultsTable
from jobs.spec import JobSpec
from producer.exports.csv_export import FORMULA_STARTS
from tests.support.commands import cli
from tests.support.export_batches import (
    StoredFacts,
    record_failed,
    record_succeeded,
    stored_images,
)
from tests.support.images import image_bytes
from tests.support.services import Emulator

pytestmark = pytest.mark.integration

HOSTILE_PROMPT = '=HYPERLINK("http://evil.example","a mug")'
#: the row whose prompt is HOSTILE_PROMPT
HOSTILE_KEY = "spring/sku.00/hero"
HOSTILE_NOTES = ["+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3", "\t=1+1"]
#: every content-policy refusal is final: the failed rows of the batch
FAULTS = {"content_policy": 0.3}


@dataclass
class FinishedBatch:
    name: str
    env: dict[str, str]
    cwd: Path
    #: key -> the manifest row, in manifest order
    rows: dict[str, dict[str, Any]]
    #: key -> state, as the table has it
    states: dict[str, str]

    @property
    def succeeded(self) -> list[str]:
        return [key for key in self.rows if self.states[key] == "succeeded"]


def manifest_rows() -> list[dict[str, Any]]:
    """Keys with dots and slashes, metadata of several kinds, hostile cells, custom sizes and an
    inline input image."""
    picture = io.BytesIO()
    Image.new("RGB", (64, 64), "red").save(picture, "PNG")
    inline = "data:image/png;base64," + base64.b64encode(picture.getvalue()).decode()
    rows: list[dict[str, Any]] = []
    for n in range(16):
        row: dict[str, Any] = {
            "id": f"spring/sku.{n:02d}/hero",
            "prompt": HOSTILE_PROMPT if n == 0 else f"a ceramic mug, variant {n}",
            "size": "1K",
            "aspect_ratio": "1:1",
            "caption": f"caption {n}",
            "label": n,
            "note": HOSTILE_NOTES[n % len(HOSTILE_NOTES)],
        }
        if n % 5 == 3:
            row |= {"size": "custom", "width": 1024, "height": 1536}
            del row["aspect_ratio"]
        if n == 7:
            row["image"] = inline
        rows.append(row)
    return rows


def expected_size(row: dict[str, Any]) -> tuple[int, int]:
    return (row["width"], row["height"]) if row["size"] == "custom" else (1024, 1024)


def run_batch(env: dict[str, str], cwd: Path, out: str, emulator: Emulator) -> FinishedBatch:
    rows = manifest_rows()
    (cwd / "jobs.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    emulator.configure(faults=FAULTS, seed=11)
    name = f"export-{secrets.token_hex(3)}"
    ran = cli(["run", "jobs.jsonl", "--out", out, "--batch", name], env, cwd)
    assert ran.returncode in (0, 1), ran.stderr
    states = {
        job["key"]: job["state"] for job in read_jsonl(export(name, "jsonl", "all", env, cwd))
    }
    batch = FinishedBatch(name, env, cwd, {row["id"]: row for row in rows}, states)
    assert 0 < len(batch.succeeded) < len(rows), "the batch has rows that failed"
    return batch


def export(batch: str, format: str, to: str, env: dict[str, str], cwd: Path, *extra: str) -> Path:
    done = cli(["export", batch, "--format", format, "--to", to, *extra], env, cwd)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("exported "), done.stdout
    assert done.stdout.count("\n") == 1, done.stdout
    path = cwd / to
    return path / f"{batch}.{format}" if format in ("jsonl", "csv", "parquet") else path


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def local_batch(
    tmp_path: Path,
    database_url: str,
    s3_env: dict[str, str],
    emulator: Emulator,
    child_env: dict[str, str],
) -> FinishedBatch:
    """A batch run embedded into a local folder, on SQLite or PostgreSQL, some rows failed."""
    env = {**child_env, **s3_env, **emulator.env(), "SEEDREAM_DATABASE_URL": database_url}
    return run_batch(env, tmp_path, "out", emulator)


def test_table_formats_hold_every_job_in_manifest_order_with_its_metadata(
    local_batch: FinishedBatch,
) -> None:
    b = local_batch
    keys = list(b.rows)

    lines = read_jsonl(export(b.name, "jsonl", "exports", b.env, b.cwd))
    table = pq.read_table(export(b.name, "parquet", "exports", b.env, b.cwd)).to_pylist()
    with export(b.name, "csv", "exports", b.env, b.cwd).open(newline="", encoding="utf-8") as f:
        cells = list(csv.reader(f))

    assert [line["key"] for line in lines] == keys
    assert [row["key"] for row in table] == keys
    assert [row[0] for row in cells[1:]] == keys
    for line, parquet_row in zip(lines, table, strict=True):
        source = b.rows[line["key"]]
        assert line["state"] == parquet_row["state"] == b.states[line["key"]]
        assert line["metadata"] == {k: source[k] for k in ("caption", "label", "note")}
        assert parquet_row["meta_label"] == source["label"]  # an integer column stays one
        assert parquet_row["meta_note"] == source["note"]
        assert (
            line["input_image"]
            == parquet_row["input_image"]
            == ("inline" if "image" in source else None)
        )
        if line["state"] == "succeeded":
            assert (line["width"], line["height"]) == expected_size(source)
            assert parquet_row["finished_at"] is not None
            assert parquet_row["sha256"]
        else:
            assert line["error_class"] == parquet_row["error_class"] == "content_policy"
            assert line["output_uri"] is None
    header = cells[0]
    assert {"meta_caption", "meta_label", "meta_note", "prompt", "sha256"} <= set(header)
    assert "provider_url" not in header
    assert "inline_image" not in header
    assert all(not cell.startswith(FORMULA_STARTS) for row in cells for cell in row)
    prompt = header.index("prompt")
    assert cells[1][prompt] == "'" + HOSTILE_PROMPT
    everything = "".join(p.read_text(errors="replace") for p in (b.cwd / "exports").iterdir())
    assert "base64" not in everything
    assert "/cdn/" not in everything


def test_an_image_folder_loads_in_hugging_face_datasets_with_its_columns(
    local_batch: FinishedBatch,
) -> None:
    folder = export(local_batch.name, "imagefolder", "hf", local_batch.env, local_batch.cwd)

    loaded = load_image_folder(folder)

    assert loaded["keys"] == local_batch.succeeded
    for key, size, caption, label in zip(
        loaded["keys"], loaded["sizes"], loaded["captions"], loaded["labels"], strict=True
    ):
        source = local_batch.rows[key]
        assert tuple(size) == expected_size(source)
        assert (caption, label) == (source["caption"], source["label"])
    assert HOSTILE_PROMPT in loaded["prompts"] or local_batch.states[HOSTILE_KEY] != "succeeded"
    again = cli(["export", local_batch.name, "--format", "imagefolder", "--to", "hf"],
                local_batch.env, local_batch.cwd)  # fmt: skip
    assert again.returncode == 2
    assert again.stderr.startswith("error: ")
    assert "hf is not empty" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def load_image_folder(folder: Path) -> dict[str, list[Any]]:
    """`datasets.load_dataset("imagefolder")` in a fresh interpreter, offline, with its own cache;
    what it loaded, as JSON."""
    script = (
        "import datasets, json, sys\n"
        "d = datasets.load_dataset('imagefolder', data_dir=sys.argv[1], split='train')\n"
        "columns = {'keys': 'key', 'prompts': 'prompt', 'captions': 'meta_caption',\n"
        "  'labels': 'meta_label', 'indexes': 'image_index'}\n"
        "found = {name: list(d[column]) for name, column in columns.items()}\n"
        "print(json.dumps({**found, 'sizes': [i.size for i in d['image']]}))\n"
    )
    env = {
        **os.environ,
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(folder.parent / "hf-home"),
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    return {k: list(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}


def test_webdataset_shards_hold_each_image_beside_its_row_under_a_dotless_key(
    local_batch: FinishedBatch,
) -> None:
    b = local_batch
    folder = export(b.name, "webdataset", "wds", b.env, b.cwd, "--shard-size", "4")

    shards = sorted(folder.glob("shard-*.tar"))
    assert [s.name for s in shards] == [f"shard-{n:06d}.tar" for n in range(len(shards))]
    assert len(shards) == -(-len(b.succeeded) // 4)
    names = [name for shard in shards for name in tar_names(shard)]
    assert len(names) == 2 * len(b.succeeded)
    stems = [name.split(".", 1)[0] for name in names]
    assert stems[::2] == stems[1::2]  # each sample's two files are adjacent
    assert all("/" not in stem for stem in stems)

    samples = read_webdataset(shards)
    assert [json.loads(s["json"])["key"] for s in samples] == b.succeeded
    for sample in samples:
        row = json.loads(sample["json"])
        with Image.open(io.BytesIO(sample["jpg"])) as picture:
            assert picture.size == expected_size(b.rows[row["key"]])
        assert row["metadata"]["caption"] == b.rows[row["key"]]["caption"]


def tar_names(shard: Path) -> list[str]:
    with tarfile.open(shard) as tar:
        return tar.getnames()


def read_webdataset(shards: list[Path]) -> list[dict[str, Any]]:
    """The samples `webdataset.WebDataset(shards, shardshuffle=False)` yields (less its
    `__local_path__`), read by the same webdataset stages (tar expansion, grouping by key) from
    files opened and closed here: WebDataset's own opener never closes a local shard (webdataset
    issue #311), a leak that warnings as errors would report in whichever test runs next."""
    with ExitStack() as stack:
        streams = [{"url": str(s), "stream": stack.enter_context(s.open("rb"))} for s in shards]
        return list(group_by_keys(tar_file_expander(streams)))


def test_an_image_folder_is_copied_from_s3_to_s3_by_the_server_and_loads_once_downloaded(
    tmp_path: Path,
    s3_env: dict[str, str],
    s3_bucket: tuple[str, Any],
    emulator: Emulator,
    child_env: dict[str, str],
) -> None:
    bucket, client = s3_bucket
    env = {**child_env, **s3_env, **emulator.env()}
    b = run_batch(env, tmp_path, f"s3://{bucket}/images", emulator)
    gone, *kept = b.succeeded
    client.delete_object(Bucket=bucket, Key=f"images/{b.name}/{gone}.jpg")

    done = cli(
        ["export", b.name, "--format", "imagefolder", "--to", f"s3://{bucket}/datasets/v1"],
        env,
        tmp_path,
    )

    assert done.returncode == 0, done.stderr
    assert f"s3://{bucket}/datasets/v1" in done.stdout
    assert "(1 image no longer in storage was left out)" in done.stdout
    listed = client.list_objects_v2(Bucket=bucket, Prefix="datasets/v1/")["Contents"]
    download = tmp_path / "downloaded"
    for item in listed:
        target = download / item["Key"].removeprefix("datasets/v1/")
        target.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, item["Key"], str(target))
    assert len(listed) == len(kept) + 1  # the images and metadata.jsonl
    for key in kept:  # a server-side copy keeps the object's type and metadata
        copied = client.head_object(Bucket=bucket, Key=f"datasets/v1/{key}.jpg")
        stored = client.head_object(Bucket=bucket, Key=f"images/{b.name}/{key}.jpg")
        assert copied["ContentType"] == "image/jpeg"
        assert copied["Metadata"] == stored["Metadata"]
        assert "job-id" in copied["Metadata"]
    loaded = load_image_folder(download)
    assert loaded["keys"] == kept
    assert [tuple(size) for size in loaded["sizes"]] == [expected_size(b.rows[key]) for key in kept]
    again = cli(
        ["export", b.name, "--format", "imagefolder", "--to", f"s3://{bucket}/datasets/v1"],
        env,
        tmp_path,
    )
    assert again.returncode == 2
    assert "datasets/v1 is not empty" in again.stderr


def test_an_unknown_batch_is_one_line_and_exit_code_2(
    tmp_path: Path, child_env: dict[str, str]
) -> None:
    ResultsTable(open_engine(f"sqlite:///{tmp_path / 'seedream.db'}")).create_schema()
    done = cli(["export", "nope", "--format", "csv", "--to", "x"], child_env, tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "no batch named 'nope'" in done.stderr


#: a Seedream 4.0 export's columns before this batch's metadata (`meta_*`), and after it
SEEDREAM_4_0_LEADING = [
    "key", "state", "output_uri", "prompt", "size", "aspect_ratio", "custom_width",
    "custom_height", "enhance_prompt", "input_image",
]  # fmt: skip
TRAILING = [
    "bytes", "width", "height", "sha256", "attempts", "cost", "error_class", "error_message",
    "finished_at", "model", "log_id", "image_index", "variant", "reused_from",
]  # fmt: skip
METADATA = ["meta_caption", "meta_label", "meta_note"]


def test_a_seedream_4_0_batch_keeps_its_columns_then_model_log_id_and_image_index(
    local_batch: FinishedBatch,
) -> None:
    b = local_batch

    lines = read_jsonl(export(b.name, "jsonl", "exports", b.env, b.cwd))
    table = pq.read_table(export(b.name, "parquet", "exports", b.env, b.cwd))
    with export(b.name, "csv", "exports", b.env, b.cwd).open(newline="", encoding="utf-8") as f:
        header = next(csv.reader(f))

    assert header == [*SEEDREAM_4_0_LEADING, *METADATA, *TRAILING]
    assert table.schema.names == header
    assert list(lines[0]) == [*SEEDREAM_4_0_LEADING, "metadata", *TRAILING]
    for line, row in zip(lines, table.to_pylist(), strict=True):
        assert line["model"] == row["model"] == "bytedance/seedream-4.0"
        assert line["log_id"] == row["log_id"]
        stored = line["state"] == "succeeded"
        assert line["image_index"] == row["image_index"] == (0 if stored else None)


@dataclass
class SeveralImagesBatch:
    """A Seedream 4.0 batch made directly in the table, whose jobs' images are in a folder: `one`
    (one image), `trio` (three, in `job_images`), `refused` (failed), `alone` (one image, stored as
    a model that may answer with several stores it)."""

    name: str
    env: dict[str, str]
    cwd: Path
    images: dict[str, list[StoredFacts]]


@pytest.fixture
def several_images(
    tmp_path: Path, database_url: str, child_env: dict[str, str]
) -> SeveralImagesBatch:
    name = f"several-{secrets.token_hex(3)}"
    prefix = f"{tmp_path / 'out'}/{name}"
    table = ResultsTable(open_engine(database_url))
    table.create_schema()
    table.create_batch(name, "m.jsonl", str(tmp_path / "out"), "bytedance/seedream-4.0")
    keys = ["one", "trio", "refused", "alone"]
    table.add_jobs(
        name,
        [
            JobSpec(
                key=key,
                line=n + 1,
                input=Seedream40Input(prompt=f"a mug, {key}", size="1K"),
                metadata={"caption": f"caption {key}", "label": n},
            )
            for n, key in enumerate(keys)
        ],
    )
    images = {
        "one": stored_images(prefix, "one", 1, several=False),
        "trio": stored_images(prefix, "trio", 3, several=True),
        "alone": stored_images(prefix, "alone", 1, several=True),
    }
    for key, stored in images.items():
        record_succeeded(table.engine, name, key, stored, cost=0.03 * (len(stored) + 1),
                         log_id=f"log-{key}")  # fmt: skip
        for image in stored:
            Path(image.output_uri).parent.mkdir(parents=True, exist_ok=True)
            Path(image.output_uri).write_bytes(image_bytes(size=(image.width, image.height)))
    record_failed(table.engine, name, "refused")
    table.engine.dispose()
    return SeveralImagesBatch(
        name, {**child_env, "SEEDREAM_DATABASE_URL": database_url}, tmp_path, images
    )


#: (key, image_index) of each row of the batch above, in order
SEVERAL_ROWS = [("one", 0), ("trio", 0), ("trio", 1), ("trio", 2), ("refused", None),
                ("alone", 0)]  # fmt: skip
#: ... and the file an image folder has for each image
SEVERAL_FILES = ["one.jpg", "trio/0.jpg", "trio/1.jpg", "trio/2.jpg", "alone/0.jpg"]


def test_a_job_of_several_images_is_a_row_each_in_every_table_format(
    several_images: SeveralImagesBatch,
) -> None:
    b = several_images

    lines = read_jsonl(export(b.name, "jsonl", "exports", b.env, b.cwd))
    table = pq.read_table(export(b.name, "parquet", "exports", b.env, b.cwd)).to_pylist()
    with export(b.name, "csv", "exports", b.env, b.cwd).open(newline="", encoding="utf-8") as f:
        header, *cells = list(csv.reader(f))
    from_csv = [dict(zip(header, row, strict=True)) for row in cells]

    for rows in (lines, table):
        assert [(row["key"], row["image_index"]) for row in rows] == SEVERAL_ROWS
        assert [row["cost"] for row in rows] == [0.06, 0.12, None, None, None, 0.06]
        assert [row["log_id"] for row in rows] == [
            "log-one", "log-trio", "log-trio", "log-trio", None, "log-alone",
        ]  # fmt: skip
        stored = [row for row in rows if row["output_uri"] is not None]
        facts = [image for key in ("one", "trio", "alone") for image in b.images[key]]
        assert [row["output_uri"] for row in stored] == [image.output_uri for image in facts]
        assert [(row["width"], row["bytes"]) for row in stored] == [
            (image.width, image.bytes) for image in facts
        ]
        assert {row["size"] for row in rows} == {"1K"}
    assert [(row["key"], row["image_index"]) for row in from_csv] == [
        (key, "" if index is None else str(index)) for key, index in SEVERAL_ROWS
    ]
    assert [row["cost"] for row in from_csv] == ["0.06", "0.12", "", "", "", "0.06"]
    assert sum(row["cost"] or 0 for row in table) == pytest.approx(0.24)  # what the batch cost


def test_a_job_of_several_images_is_a_file_each_in_an_image_folder_and_a_sample_each_in_shards(
    several_images: SeveralImagesBatch,
) -> None:
    b = several_images
    widths = [image.width for key in ("one", "trio", "alone") for image in b.images[key]]
    stored_rows = [row for row in SEVERAL_ROWS if row[1] is not None]

    folder = export(b.name, "imagefolder", "hf", b.env, b.cwd)
    shards = sorted(export(b.name, "webdataset", "wds", b.env, b.cwd).glob("shard-*.tar"))

    listed = read_jsonl(folder / "metadata.jsonl")
    assert [line["file_name"] for line in listed] == SEVERAL_FILES
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*.jpg")) == sorted(
        SEVERAL_FILES
    )
    loaded = load_image_folder(folder)
    assert list(zip(loaded["keys"], loaded["indexes"], strict=True)) == stored_rows
    assert [size[0] for size in loaded["sizes"]] == widths
    samples = read_webdataset(shards)
    records = [json.loads(sample["json"]) for sample in samples]
    assert [(record["key"], record["image_index"]) for record in records] == stored_rows
    for sample, width in zip(samples, widths, strict=True):
        with Image.open(io.BytesIO(sample["jpg"])) as picture:
            assert picture.size == (width, 30)
