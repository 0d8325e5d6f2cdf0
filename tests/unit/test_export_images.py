"""Export rows read from the table: a row per stored image (`job_images`), the batch's model's own
columns, typed in Parquet by what its adapter declares, and where each image's file goes."""

import csv
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import update

from jobs.database import open_engine
from jobs.models import MODELS, ModelAdapter, UnknownModel, model_named
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.results import ResultsTable
from jobs.schema import jobs_table
from jobs.spec import JobSpec
from producer.exports.formats import ExportFormat
from producer.exports.metadata_columns import MetadataColumns
from producer.exports.parquet_export import parquet_schema
from producer.exports.reading import BatchRows
from producer.exports.rows import flat_columns, image_file_name
from producer.exports.run import run_export
from tests.support.export_batches import (
    MANY_IMAGES,
    ManyImagesInput,
    record_failed,
    record_succeeded,
    stored_images,
)

SEEDREAM_4_0 = "bytedance/seedream-4.0"
PREFIX = "/out/b"


def seedream_batch(table: ResultsTable, *keys: str) -> None:
    """Batch `b` of Seedream 4.0, a queued job per key, in manifest order."""
    table.create_batch("b", "m.jsonl", "/out", SEEDREAM_4_0)
    specs = [
        JobSpec(key=key, line=n + 1, input=Seedream40Input(prompt=f"p {key}"), metadata={"n": n})
        for n, key in enumerate(keys)
    ]
    table.add_jobs("b", specs)


def test_a_job_of_several_images_is_a_row_per_image_in_order_its_cost_on_the_first(
    table: ResultsTable,
) -> None:
    seedream_batch(table, "one", "three", "refused", "waiting")
    record_succeeded(
        table.engine, "b", "one", stored_images(PREFIX, "one", 1, several=False),
        cost=0.03, log_id="log-one",
    )  # fmt: skip
    three = stored_images(PREFIX, "three", 3, several=True)
    record_succeeded(table.engine, "b", "three", three, cost=0.12, log_id="log-three")
    record_failed(table.engine, "b", "refused")

    rows = list(BatchRows(table.engine, "b").rows())

    assert [(row["key"], row["image_index"]) for row in rows] == [
        ("one", 0),
        ("three", 0),
        ("three", 1),
        ("three", 2),
        ("refused", None),
        ("waiting", None),
    ]
    assert [row["output_uri"] for row in rows[1:4]] == [image.output_uri for image in three]
    assert [row["width"] for row in rows[1:4]] == [40, 41, 42]
    assert [row["bytes"] for row in rows[1:4]] == [1000, 1001, 1002]
    assert [row["sha256"] for row in rows[1:4]] == [image.sha256 for image in three]
    assert [row["cost"] for row in rows] == [0.03, 0.12, None, None, None, None]
    assert [row["log_id"] for row in rows[:4]] == ["log-one", *["log-three"] * 3]
    assert {row["model"] for row in rows} == {SEEDREAM_4_0}
    assert [row["metadata"] for row in rows[1:4]] == [{"n": 1}] * 3
    assert {row["prompt"] for row in rows[1:4]} == {"p three"}


def test_the_image_formats_read_every_stored_image_and_no_job_without_one(
    table: ResultsTable,
) -> None:
    seedream_batch(table, "three", "refused")
    images = stored_images(PREFIX, "three", 3, several=True)
    record_succeeded(table.engine, "b", "three", images, cost=0.09, log_id="log")
    record_failed(table.engine, "b", "refused")

    rows = list(BatchRows(table.engine, "b").rows(succeeded_only=True))

    assert [row["output_uri"] for row in rows] == [image.output_uri for image in images]


def test_a_job_without_a_stored_image_shows_none_whatever_job_images_holds(
    table: ResultsTable,
) -> None:
    seedream_batch(table, "retried")
    images = stored_images(PREFIX, "retried", 2, several=True)
    record_succeeded(table.engine, "b", "retried", images, cost=0.06, log_id="log")
    with table.engine.begin() as conn:  # its image dropped, as a retry from the start would
        conn.execute(update(jobs_table).values(state="queued", output_uri=None))

    (row,) = BatchRows(table.engine, "b").rows()

    assert (row["output_uri"], row["image_index"], row["cost"]) == (None, None, 0.06)


def test_a_seedream_4_0_export_keeps_its_columns_then_the_later_ones_in_order() -> None:
    header = flat_columns(model_named(SEEDREAM_4_0), MetadataColumns.of([{"caption": "x"}]))

    assert header == [
        "key", "state", "output_uri", "prompt", "size", "aspect_ratio", "custom_width",
        "custom_height", "enhance_prompt", "input_image", "meta_caption", "bytes", "width",
        "height", "sha256", "attempts", "cost", "error_class", "error_message", "finished_at",
        "model", "log_id", "image_index", "variant", "reused_from",
    ]  # fmt: skip


@pytest.mark.parametrize("model", MODELS.values(), ids=list(MODELS))
def test_every_model_columns_have_a_parquet_type_in_the_flat_order(model: ModelAdapter) -> None:
    metadata = MetadataColumns.of([{"label": 1}])

    schema = parquet_schema(model, metadata)

    assert schema.names == flat_columns(model, metadata)


def test_a_model_columns_come_from_its_adapter_and_parquet_types_them_as_declared(
    tmp_path: Path,
) -> None:
    table = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'results.db'}"))
    table.create_schema()
    table.create_batch("b", "m.jsonl", str(tmp_path / "out"), MANY_IMAGES.name)
    drawn = ManyImagesInput(prompt="tiles", count=2, style="flat", strength=0.5, tiled=True)
    table.add_jobs("b", [JobSpec(key="k", line=1, input=drawn, metadata={"label": 3})])
    images = stored_images(str(tmp_path / "out" / "b"), "k", 2, several=True)
    record_succeeded(table.engine, "b", "k", images, cost=0.08, log_id="log-k")
    rows = BatchRows(table.engine, "b", MANY_IMAGES)

    parquet = run_export(rows, ExportFormat.parquet, str(tmp_path / "x"), 10)
    jsonl = run_export(rows, ExportFormat.jsonl, str(tmp_path / "x"), 10)
    csv_file = run_export(rows, ExportFormat.csv, str(tmp_path / "x"), 10)
    table.engine.dispose()

    read = pq.read_table(parquet.location)
    assert read.schema.field("count").type == pa.int32()
    assert read.schema.field("style").type == pa.string()
    assert read.schema.field("strength").type == pa.float64()
    assert read.schema.field("tiled").type == pa.bool_()
    assert read.schema.names.index("prompt") + 1 == read.schema.names.index("count")
    assert "size" not in read.schema.names
    assert read.column("count").to_pylist() == [2, 2]
    assert read.column("image_index").to_pylist() == [0, 1]
    assert read.column("model").to_pylist() == [MANY_IMAGES.name] * 2
    lines = [json.loads(line) for line in Path(jsonl.location).read_text().splitlines()]
    assert [(line["style"], line["tiled"], line["cost"]) for line in lines] == [
        ("flat", True, 0.08),
        ("flat", True, None),
    ]
    with Path(csv_file.location).open(newline="", encoding="utf-8") as f:
        header, *cells = list(csv.reader(f))
    assert header == read.schema.names
    assert [row[header.index("strength")] for row in cells] == ["0.5", "0.5"]


def test_a_batch_of_a_model_this_version_lacks_is_refused_by_name(table: ResultsTable) -> None:
    table.create_batch("b", "m.jsonl", "/out", "acme/not-yet")

    with pytest.raises(UnknownModel, match="'acme/not-yet' is not a model"):
        BatchRows(table.engine, "b")


@pytest.mark.parametrize(
    ("uri", "key", "index", "name"),
    [
        ("/out/b/spring/sku.1/hero.jpg", "spring/sku.1/hero", 0, "spring/sku.1/hero.jpg"),
        ("s3://bucket/out/b/trio/2.png", "trio", 2, "trio/2.png"),
        ("/out/b/alone/0.jpg", "alone", 0, "alone/0.jpg"),  # a model of several that drew one
        ("/out/b/take/0.jpg", "take/0", 0, "take/0.jpg"),  # a key ending in /0, one image
        ("/out/b/0/0.jpg", "0", 0, "0/0.jpg"),
    ],
)
def test_an_image_file_is_named_as_storage_names_it_under_the_batch(
    uri: str, key: str, index: int, name: str
) -> None:
    assert image_file_name({"output_uri": uri, "key": key, "image_index": index}) == name
