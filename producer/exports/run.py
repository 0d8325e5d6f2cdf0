"""One export from start to end: the format's writer, its destination, and what can go wrong
said in one line.

Imported only when a batch is exported: the writers load pyarrow and the storages boto3, which
every other command can start without.
"""

from collections.abc import Callable

from jobs.errors import StorageError
from producer.exports.csv_export import export_csv
from producer.exports.destination import Destination, ImageSource
from producer.exports.formats import ExportFormat
from producer.exports.imagefolder_export import export_imagefolder
from producer.exports.jsonl_export import export_jsonl
from producer.exports.parquet_export import export_parquet
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult
from producer.exports.webdataset_export import export_webdataset
from worker.storage import StorageLookup

TableExport = Callable[[BatchRows, Destination, str], ExportResult]
#: the formats written as one file, and the function that writes each
TABLE_EXPORTS: dict[ExportFormat, TableExport] = {
    ExportFormat.jsonl: export_jsonl,
    ExportFormat.csv: export_csv,
    ExportFormat.parquet: export_parquet,
}
#: connections of each client an export makes: it reads an image while it writes a file
EXPORT_CONNECTIONS = 4


class ExportError(RuntimeError):
    """The export could not be written; the message says why, in one line."""


def run_export(rows: BatchRows, format: ExportFormat, to: str, shard_size: int) -> ExportResult:
    """Write `rows` as `format` to `to`; ExportError saying what went wrong otherwise."""
    storages = StorageLookup(EXPORT_CONNECTIONS)
    try:
        if format in TABLE_EXPORTS:
            folder, name = table_target(to, rows.batch_id, format.value)
            return TABLE_EXPORTS[format](rows, Destination(folder, storages), name)
        destination, source = Destination(to, storages), ImageSource(storages)
        if format is ExportFormat.imagefolder:
            return export_imagefolder(rows, destination, source)
        return export_webdataset(rows, destination, source, shard_size)
    except (StorageError, ValueError) as exc:  # a bad s3:// URI, too many metadata names
        raise ExportError(str(exc)) from exc
    except OSError as exc:
        raise ExportError(f"could not write {to}: {exc.strerror or exc}") from exc


def table_target(to: str, batch_id: str, extension: str) -> tuple[str, str]:
    """(folder or prefix, file name) for a one-file export: `to` itself when it ends in
    `.extension`, else `<batch>.<extension>` inside it."""
    if not to.endswith(f".{extension}"):
        return to, f"{batch_id}.{extension}"
    folder, slash, name = to.rpartition("/")
    return (folder or "/") if slash else ".", name
