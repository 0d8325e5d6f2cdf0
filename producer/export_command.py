"""`seedream-batch export BATCH --format FORMAT --to DEST`: a batch's results for a training
pipeline, in a local folder or under an S3 prefix.

jsonl, csv and parquet write one file with a row per image (every state: a job without an image
is one row): DEST is that file when it ends in the format's extension, else a folder (or s3://
prefix) that gets `<batch>.<format>`. imagefolder and webdataset write the succeeded images into
DEST, a folder or s3:// prefix.
"""

import time
from typing import Annotated

import typer

from jobs.models import UnknownModel
from jobs.wording import counted
from producer.cli_support import command_settings, existing_batch, existing_table, fail
from producer.exports.formats import DEFAULT_SHARD_SIZE, ExportFormat
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult


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
    from producer.exports.run import ExportError, run_export  # pyarrow, boto3: only to export

    table = existing_table(command_settings(need_credentials=False))
    found = existing_batch(table, batch)
    started = time.monotonic()
    try:
        result = run_export(BatchRows(table.engine, found.id), format, to, shard_size)
    except (ExportError, UnknownModel) as exc:  # UnknownModel: made by a version with more models
        raise fail(str(exc)) from None
    typer.echo(summary_line(result, time.monotonic() - started))


def summary_line(result: ExportResult, seconds: float) -> str:
    """`exported 190 images, 41.2 MB, to s3://bucket/v1 in 3.1 s`."""
    what = counted(result.images, "image") if result.images else counted(result.rows, "row")
    missing = ""
    if result.missing_images:
        were = "was" if result.missing_images == 1 else "were"
        missing = (
            f" ({counted(result.missing_images, 'image')} no longer in storage {were} left out)"
        )
    return (
        f"exported {what}, {result.bytes / 1e6:.1f} MB, to {result.location} "
        f"in {seconds:.1f} s{missing}"
    )
