"""`seedream-batch export BATCH --format FORMAT --to DEST`: a batch's results for a training
pipeline, in a local folder or under an S3 prefix.

jsonl, csv and parquet write one file with a row per job (every state): DEST is that file when it
ends in the format's extension, else a folder (or s3:// prefix) that gets `<batch>.<format>`.
imagefolder and webdataset write the succeeded images into DEST, a folder or s3:// prefix.
"""

import time
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer
from botocore.exceptions import BotoCoreError, ClientError

from jobs.errors import StorageError
from producer.cli_support import command_settings, existing_batch, fail
from producer.exports.csv_export import export_csv
from producer.exports.destination import Destination, ImageSource
from producer.exports.imagefolder_export import export_imagefolder
from producer.exports.jsonl_export import export_jsonl
from producer.exports.metadata_columns import TooManyMetadataColumns
from producer.exports.parquet_export import export_parquet
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult
from producer.exports.webdataset_export import DEFAULT_SHARD_SIZE, export_webdataset
from producer.submission import open_table


class ExportFormat(StrEnum):
    """What `export` writes."""

    #: one JSON object per job, metadata nested
    jsonl = "jsonl"
    #: one line per job, a column per metadata name, spreadsheet-safe
    csv = "csv"
    #: one row per job, typed columns
    parquet = "parquet"
    #: the images plus metadata.jsonl, for Hugging Face `datasets`
    imagefolder = "imagefolder"
    #: tar shards of image + json samples
    webdataset = "webdataset"


TableExport = Callable[[BatchRows, Destination, str], ExportResult]
#: the formats written as one file, and the function that writes each
TABLE_EXPORTS: dict[ExportFormat, TableExport] = {
    ExportFormat.jsonl: export_jsonl,
    ExportFormat.csv: export_csv,
    ExportFormat.parquet: export_parquet,
}


def export(
    batch: Annotated[str, typer.Argument(help="Batch name.")],
    format: Annotated[ExportFormat, typer.Option("--format", help="What to write.")],
    to: Annotated[
        str,
        typer.Option(
            "--to", help="A folder or s3://bucket/prefix (jsonl, csv, parquet: or a file)."
        ),
    ],
    shard_size: Annotated[
        int, typer.Option("--shard-size", min=1, help="Samples per webdataset shard.")
    ] = DEFAULT_SHARD_SIZE,
) -> None:
    """Export a batch's rows (and images) as jsonl, csv, parquet, imagefolder or webdataset."""
    table = open_table(command_settings(need_credentials=False))
    found = existing_batch(table, batch)
    rows = BatchRows(table.engine, found.id)
    started = time.monotonic()
    try:
        result = run_export(rows, format, to, shard_size)
    except (StorageError, TooManyMetadataColumns, ValueError) as exc:
        raise fail(str(exc)) from None
    except (BotoCoreError, ClientError) as exc:
        raise fail(f"S3: {exc}") from None
    except OSError as exc:
        raise fail(f"could not write {to}: {exc.strerror or exc}") from None
    typer.echo(summary_line(result, time.monotonic() - started))


def run_export(rows: BatchRows, format: ExportFormat, to: str, shard_size: int) -> ExportResult:
    if format in TABLE_EXPORTS:
        folder, name = table_target(to, rows.batch_id, format.value)
        return TABLE_EXPORTS[format](rows, Destination(folder), name)
    if format is ExportFormat.imagefolder:
        return export_imagefolder(rows, Destination(to), ImageSource())
    return export_webdataset(rows, Destination(to), ImageSource(), shard_size)


def table_target(to: str, batch_id: str, extension: str) -> tuple[str, str]:
    """(folder or prefix, file name) for a one-file export: `to` itself when it ends in
    `.extension`, else `<batch>.<extension>` inside it."""
    if not to.endswith(f".{extension}"):
        return to, f"{batch_id}.{extension}"
    folder, slash, name = to.rpartition("/")
    return (folder or "/") if slash else ".", name


def summary_line(result: ExportResult, seconds: float) -> str:
    what = f"{result.rows} rows" if not result.images else f"{result.images} images"
    missing = (
        f" ({result.missing_images} images no longer in storage were left out)"
        if result.missing_images
        else ""
    )
    return (
        f"exported {what}, {result.bytes / 1e6:.1f} MB, to {result.location} "
        f"in {seconds:.1f} s{missing}"
    )
