"""Export rows: what a job becomes in every format, and what it never carries."""

from datetime import datetime

import pytest

from jobs.models import model_named
from jobs.models.input_rules import INLINE_IMAGE
from producer.exports.metadata_columns import (
    MAX_METADATA_COLUMNS,
    MetadataColumns,
    TooManyMetadataColumns,
    ValueKind,
)
from producer.exports.rows import export_row, flat_row, json_line

SEEDREAM_4_0 = model_named("bytedance/seedream-4.0")
PNG_URI = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGAA"


def job(**overrides: object) -> dict[str, object]:
    """A job of one image as the export reads it from the table (JOB_COLUMNS and `image_n`),
    plus what it must leave out."""
    base: dict[str, object] = {
        "key": "spring/sku.1/hero",
        "state": "succeeded",
        "output_uri": "/out/b/spring/sku.1/hero.jpg",
        "spec": {"prompt": "a mug", "size": "custom", "width": 1024, "height": 2048},
        "metadata": {"caption": "a mug", "label": 3},
        "bytes": 1234,
        "width": 1024,
        "height": 2048,
        "sha256": "ab" * 32,
        "attempts": 1,
        "cost": 0.03,
        "error_class": None,
        "error_message": None,
        "finished_at": datetime(2026, 1, 2, 3, 4, 5),
        "log_id": "01JLOG",
        "variant": None,
        "reused_from": None,
        "image_n": None,
        "provider_url": "https://cdn.example/img.jpg?signature=secret",
        "inline_image": b"\xff\xd8\xff",
    }
    return {**base, **overrides}


def test_a_row_carries_the_call_and_the_result_but_never_the_provider_url_or_inline_bytes() -> None:
    row = export_row(job(), SEEDREAM_4_0)

    assert row["prompt"] == "a mug"
    assert (row["size"], row["custom_width"], row["custom_height"]) == ("custom", 1024, 2048)
    assert row["metadata"] == {"caption": "a mug", "label": 3}
    assert (row["bytes"], row["width"], row["height"], row["cost"]) == (1234, 1024, 2048, 0.03)
    assert row["finished_at"].isoformat() == "2026-01-02T03:04:05+00:00"
    assert "provider_url" not in row
    assert "inline_image" not in row
    assert "signature" not in json_line(row)
    assert row["variant"] is None


def test_a_variant_carries_its_number() -> None:
    row = export_row(job(key="spring/sku.1/hero/2", variant=2), SEEDREAM_4_0)

    assert (row["key"], row["variant"]) == ("spring/sku.1/hero/2", 2)


def test_an_inline_input_image_is_a_marker_and_a_url_is_kept() -> None:
    inline = export_row(job(spec={"prompt": "edit", "image": PNG_URI}), SEEDREAM_4_0)
    linked = export_row(
        job(spec={"prompt": "edit", "image": "https://img.example/a.png"}), SEEDREAM_4_0
    )
    plain = export_row(job(spec={"prompt": "draw"}), SEEDREAM_4_0)

    assert inline["input_image"] == INLINE_IMAGE
    assert "base64" not in json_line(inline)
    assert linked["input_image"] == "https://img.example/a.png"
    assert plain["input_image"] is None


def test_a_failed_job_keeps_its_error_and_has_no_image() -> None:
    row = export_row(
        job(
            state="failed",
            output_uri=None,
            bytes=None,
            width=None,
            height=None,
            error_class="content_policy",
            error_message="flagged",
            finished_at=None,
        ),
        SEEDREAM_4_0,
    )
    assert (row["state"], row["error_class"], row["error_message"]) == (
        "failed",
        "content_policy",
        "flagged",
    )
    assert row["output_uri"] is None
    assert row["finished_at"] is None


def test_flat_rows_spread_metadata_into_prefixed_columns_between_the_call_and_the_result() -> None:
    columns = MetadataColumns.of([{"caption": "x", "width": 5}, {"tags": ["a", "b"]}])
    flat = flat_row(
        export_row(job(metadata={"width": 7, "tags": ["a", "b"]}), SEEDREAM_4_0), columns
    )

    names = list(flat)
    assert names.index("input_image") < names.index("meta_caption") < names.index("bytes")
    assert flat["meta_caption"] is None
    assert flat["meta_width"] == 7
    assert flat["width"] == 1024
    assert flat["meta_tags"] == '["a", "b"]'
    assert "metadata" not in flat


def test_metadata_kinds_widen_to_hold_every_value() -> None:
    columns = MetadataColumns.of(
        [
            {"n": 1, "x": 1, "flag": True, "mixed": 1, "late": None, "empty": None},
            {"n": 2, "x": 2.5, "flag": False, "mixed": "one", "late": 4},
        ]
    )
    assert columns.names == ["n", "x", "flag", "mixed", "late", "empty"]
    assert columns.kind("n") is ValueKind.integer
    assert columns.kind("x") is ValueKind.number
    assert columns.kind("flag") is ValueKind.boolean
    assert columns.kind("mixed") is ValueKind.text
    assert columns.kind("late") is ValueKind.integer  # a null first is no evidence
    assert columns.kind("empty") is ValueKind.text
    assert columns.cell("x", 1) == 1.0
    assert isinstance(columns.cell("x", 1), float)
    assert columns.cell("mixed", 1) == "1"
    assert columns.cell("mixed", {"a": "é"}) == '{"a": "é"}'


def test_a_batch_with_too_many_metadata_names_is_refused_for_flat_formats() -> None:
    rows = [{f"name{n}": n} for n in range(MAX_METADATA_COLUMNS + 1)]
    with pytest.raises(TooManyMetadataColumns, match="jsonl"):
        MetadataColumns.of(rows)
