"""One stored image (or one job without any) as an export row: what a dataset needs, and nothing
a user must not see.

A job is one row per stored image: a model that answers one call with several images (stored as
`{batch}/{key}/{n}.{ext}`, each in `job_images`) gives the job several rows, in `n` order, its
input, metadata and outcome repeated on each; a job with no image (failed, queued) is one row.

The columns are the common ones (`key`, `state`, `output_uri`, `prompt`), the batch's model's own
input columns (jobs.models: `export_columns`, `export_row`), the row's metadata, and the result.
A row never carries `provider_url` (a provider's URLs may be signed), the bytes of an inline image
waiting to be stored, or an input image's base64 payload (the model's adapter shows a marker).
"""

import json
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from pathlib import PurePosixPath
from typing import Any

from jobs.models import ModelAdapter
from jobs.records import as_utc
from producer.exports.metadata_columns import MetadataColumns

#: the prefix of a metadata column in the flat formats: a metadata field may share a job column's
#: name (`width`, `state`), and the prefix keeps both
METADATA_PREFIX = "meta_"

#: the columns every row starts with, whatever the model; the model's own follow
LEADING_COLUMNS = ("key", "state", "output_uri", "prompt")
#: the image's own facts: a job of several images has a row per image, each with its own
IMAGE_COLUMNS = ("output_uri", "bytes", "width", "height", "sha256")
#: the job's outcome, after the metadata, in order
RESULT_COLUMNS = (
    "bytes",
    "width",
    "height",
    "sha256",
    "attempts",
    #: what the provider billed for the job, every paid call included: on the job's first row
    #: only (null on its other images' rows), so that the column's sum is what the batch cost
    "cost",
    "error_class",
    "error_message",
    "finished_at",
)
#: ... then these, added later: after every older column, so that a reader of the older files
#: finds each of those where it was
CALL_COLUMNS = (
    #: the batch's model (`bytedance/seedream-4.0`)
    "model",
    #: AI Gateway's `cf-aig-log-id` of the call whose images were stored: where a question about
    #: what the job was billed is settled
    "log_id",
    #: the image's place in the model's answer, from 0; null when the job has no stored image
    "image_index",
    #: which of its row's variants the job is, from 1 (jobs.variants); null for a row of one
    "variant",
    #: the job whose stored image this one copied instead of paying (worker.reuse); null when
    #: it paid, or has no image
    "reused_from",
)
#: the columns after the metadata
TRAILING_COLUMNS = (*RESULT_COLUMNS, *CALL_COLUMNS)
#: what a row reads from the `jobs` table (never provider_url or inline_image); IMAGE_COLUMNS
#: come from `job_images` instead for a job that has rows there
JOB_COLUMNS = (
    *("key", "state", "output_uri", "spec", "metadata"),
    *(*RESULT_COLUMNS, "log_id", "variant", "reused_from"),
)


@cache  # asked for every row: an adapter's columns are fixed
def model_columns(model: ModelAdapter) -> tuple[str, ...]:
    """The names of the model's input columns, in the order the adapter declares them."""
    return tuple(name for name, _ in model.export_columns)


def flat_columns(model: ModelAdapter, metadata: MetadataColumns) -> list[str]:
    """The header of a flat export (CSV, Parquet): `flat_row`'s keys, in its order."""
    return [
        *LEADING_COLUMNS,
        *model_columns(model),
        *(METADATA_PREFIX + name for name in metadata.names),
        *TRAILING_COLUMNS,
    ]


def export_row(job: Mapping[str, Any], model: ModelAdapter) -> dict[str, Any]:
    """The row for one image of a job, its metadata nested under `metadata`.

    `job` maps JOB_COLUMNS (IMAGE_COLUMNS being the image's) and `image_n`: the image's `n` in
    `job_images`, None for a job that has no rows there (its one image, if any, is its own).
    """
    spec = job["spec"]
    shown = model.export_row(spec)
    index = job["image_n"]
    if index is None and job["output_uri"] is not None:
        index = 0
    row: dict[str, Any] = {
        "key": job["key"],
        "state": job["state"],
        "output_uri": job["output_uri"],
        "prompt": spec["prompt"],
    }
    for name in model_columns(model):
        row[name] = shown[name]
    row["metadata"] = job["metadata"] or {}
    for column in RESULT_COLUMNS:
        row[column] = job[column]
    row["finished_at"] = as_utc(job["finished_at"])
    if index:  # the job's cost is on its first row
        row["cost"] = None
    row["model"] = model.name
    row["log_id"] = job["log_id"]
    row["image_index"] = index
    row["variant"] = job["variant"]
    row["reused_from"] = job["reused_from"]
    return row


def image_file_name(row: Mapping[str, Any]) -> str:
    """Where an export puts a row's image, as storage holds it under the batch: `{key}.{ext}`,
    or `{key}/{n}.{ext}` for an image of a job whose model may answer with several."""
    uri: str = row["output_uri"]
    key: str = row["key"]
    index: int = row["image_index"]
    extension = PurePosixPath(uri).suffix
    if uri.removesuffix(extension).endswith(f"/{key}/{index}"):
        return f"{key}/{index}{extension}"
    return key + extension


def flat_row(row: Mapping[str, Any], columns: MetadataColumns) -> dict[str, Any]:
    """`row` with its metadata spread into one `meta_<name>` column per name of `columns`, in
    `flat_columns` order.

    A name the row lacks is None; a value is typed as its column is (`MetadataColumns.cell`).
    """
    flat: dict[str, Any] = {}
    for column, value in row.items():
        if column != "metadata":
            flat[column] = value
            continue
        for name in columns.names:
            flat[METADATA_PREFIX + name] = columns.cell(name, value.get(name))
    return flat


def json_line(row: Mapping[str, Any]) -> str:
    """`row` as one JSON line (times in ISO 8601, UTC)."""
    return json.dumps(row, ensure_ascii=False, default=_iso) + "\n"


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
