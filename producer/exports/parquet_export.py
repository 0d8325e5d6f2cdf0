"""Parquet: one row per job, every state, typed columns (metadata typed by what it holds),
written one row group at a time as the rows stream in."""

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from producer.exports.destination import Destination
from producer.exports.metadata_columns import MetadataColumns, ValueKind
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult
from producer.exports.rows import METADATA_PREFIX, flat_row

#: rows per row group: large enough to compress and scan well, small enough to hold in memory
ROW_GROUP_ROWS = 10_000

_TEXT = pa.string()
_LEADING_FIELDS: list[tuple[str, pa.DataType]] = [
    ("key", _TEXT),
    ("state", _TEXT),
    ("output_uri", _TEXT),
    ("prompt", _TEXT),
    ("size", _TEXT),
    ("aspect_ratio", _TEXT),
    ("custom_width", pa.int32()),
    ("custom_height", pa.int32()),
    ("enhance_prompt", pa.bool_()),
    ("input_image", _TEXT),
]
_TRAILING_FIELDS: list[tuple[str, pa.DataType]] = [
    ("bytes", pa.int64()),
    ("width", pa.int32()),
    ("height", pa.int32()),
    ("sha256", _TEXT),
    ("attempts", pa.int32()),
    ("cost", pa.float64()),
    ("error_class", _TEXT),
    ("error_message", _TEXT),
    ("finished_at", pa.timestamp("us", tz="UTC")),
]
_METADATA_TYPES: dict[ValueKind, pa.DataType] = {
    ValueKind.boolean: pa.bool_(),
    ValueKind.integer: pa.int64(),
    ValueKind.number: pa.float64(),
    ValueKind.text: _TEXT,
}


def parquet_schema(columns: MetadataColumns) -> pa.Schema:
    metadata_fields = [
        (METADATA_PREFIX + name, _METADATA_TYPES[columns.kind(name)]) for name in columns.names
    ]
    return pa.schema([*_LEADING_FIELDS, *metadata_fields, *_TRAILING_FIELDS])


def export_parquet(rows: BatchRows, destination: Destination, name: str) -> ExportResult:
    columns = rows.metadata_columns()
    schema = parquet_schema(columns)
    count = 0
    with destination.new_file(name, "application/vnd.apache.parquet") as out:
        with pq.ParquetWriter(out, schema, compression="zstd") as writer:
            group: list[dict[str, Any]] = []
            for row in rows.rows():
                group.append(flat_row(row, columns))
                if len(group) == ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_pylist(group, schema))
                    count += len(group)
                    group.clear()
            if group or not count:  # an empty batch still gets a file with its schema
                writer.write_table(pa.Table.from_pylist(group, schema))
                count += len(group)
        size = out.tell()
    return ExportResult(rows=count, images=0, bytes=size, location=destination.uri(name))
