"""Parquet: one row per image (or job without one), every state, typed columns (the model's input
columns by the types its adapter declares, metadata by what it holds), written one row group at a
time as the rows stream in."""

from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from jobs.models import ModelAdapter
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
    ("model", _TEXT),
    ("log_id", _TEXT),
    ("image_index", pa.int32()),
    ("variant", pa.int32()),
    ("reused_from", pa.int64()),
]
#: the Parquet type of a model's input column, by the Python type its adapter declares. Whole
#: numbers are int32: a model's are pixel sizes and image counts, and Seedream 4.0's
#: custom_width/custom_height have been int32 since the first export
MODEL_COLUMN_TYPES: dict[type, pa.DataType] = {
    str: _TEXT,
    int: pa.int32(),
    float: pa.float64(),
    bool: pa.bool_(),
}
_METADATA_TYPES: dict[ValueKind, pa.DataType] = {
    ValueKind.boolean: pa.bool_(),
    ValueKind.integer: pa.int64(),
    ValueKind.number: pa.float64(),
    ValueKind.text: _TEXT,
}


def parquet_schema(model: ModelAdapter, columns: MetadataColumns) -> pa.Schema:
    metadata_fields = [
        (METADATA_PREFIX + name, _METADATA_TYPES[columns.kind(name)]) for name in columns.names
    ]
    return pa.schema([*_LEADING_FIELDS, *model_fields(model), *metadata_fields, *_TRAILING_FIELDS])


def model_fields(model: ModelAdapter) -> list[tuple[str, pa.DataType]]:
    """The model's input columns as Parquet fields; TypeError for a type Parquet is not given
    here (a new adapter's test finds it, not a user's export)."""
    fields = []
    for name, kind in model.export_columns:
        if kind not in MODEL_COLUMN_TYPES:
            raise TypeError(
                f"{model.name} declares export column {name!r} as {kind.__name__}; an export "
                f"types only {', '.join(t.__name__ for t in MODEL_COLUMN_TYPES)}"
            )
        fields.append((name, MODEL_COLUMN_TYPES[kind]))
    return fields


def export_parquet(rows: BatchRows, destination: Destination, name: str) -> ExportResult:
    columns = rows.metadata_columns()
    schema = parquet_schema(rows.model, columns)
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
