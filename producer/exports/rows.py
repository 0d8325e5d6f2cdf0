"""One job as an export row: what a dataset needs, and nothing a user must not see.

A row never carries `provider_url` (a provider's URLs may be signed), the bytes of an inline image
waiting to be stored, or an input image's base64 payload (an `inline` marker stands for it).
"""

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from jobs.records import as_utc
from producer.exports.metadata_columns import MetadataColumns

#: what an input image given inline (a data URI, or a file the manifest named) is exported as
INLINE_IMAGE = "inline"
#: the prefix of a metadata column in the flat formats: a metadata field may share a job column's
#: name (`width`, `state`), and the prefix keeps both
METADATA_PREFIX = "meta_"

#: the columns of an export row before its metadata, in order
LEADING_COLUMNS = (
    "key",
    "state",
    "output_uri",
    "prompt",
    "size",
    "aspect_ratio",
    #: the requested width and height, given only with size `custom`; `width`/`height` below are
    #: the stored image's
    "custom_width",
    "custom_height",
    "enhance_prompt",
    #: an input image's URL, or INLINE_IMAGE
    "input_image",
)
#: ... and after it
TRAILING_COLUMNS = (
    "bytes",
    "width",
    "height",
    "sha256",
    "attempts",
    "cost",
    "error_class",
    "error_message",
    "finished_at",
)
#: what a row reads from the `jobs` table (never provider_url or inline_image)
JOB_COLUMNS = ("key", "state", "output_uri", "spec", "metadata", *TRAILING_COLUMNS)


def export_row(job: Mapping[str, Any]) -> dict[str, Any]:
    """The row for one job (a mapping of JOB_COLUMNS), its metadata nested under `metadata`."""
    spec = job["spec"]
    row: dict[str, Any] = {
        "key": job["key"],
        "state": job["state"],
        "output_uri": job["output_uri"],
        "prompt": spec["prompt"],
        "size": spec.get("size"),
        "aspect_ratio": spec.get("aspect_ratio"),
        "custom_width": spec.get("width"),
        "custom_height": spec.get("height"),
        "enhance_prompt": spec.get("enhance_prompt"),
        "input_image": input_image_reference(spec.get("image")),
        "metadata": job["metadata"] or {},
    }
    for column in TRAILING_COLUMNS:
        row[column] = job[column]
    row["finished_at"] = as_utc(job["finished_at"])
    return row


def input_image_reference(image: str | None) -> str | None:
    """An input image as an export shows it: its URL, or INLINE_IMAGE for a data URI."""
    if image is None or image.startswith(("http://", "https://")):
        return image
    return INLINE_IMAGE


def flat_row(row: Mapping[str, Any], columns: MetadataColumns) -> dict[str, Any]:
    """`row` with its metadata spread into one `meta_<name>` column per name of `columns`.

    A name the row lacks is None; a value is typed as its column is (`MetadataColumns.cell`).
    """
    flat = {column: row[column] for column in LEADING_COLUMNS}
    metadata = row["metadata"]
    for name in columns.names:
        flat[METADATA_PREFIX + name] = columns.cell(name, metadata.get(name))
    for column in TRAILING_COLUMNS:
        flat[column] = row[column]
    return flat


def json_line(row: Mapping[str, Any]) -> str:
    """`row` as one JSON line (times in ISO 8601, UTC)."""
    return json.dumps(row, ensure_ascii=False, default=_iso) + "\n"


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
