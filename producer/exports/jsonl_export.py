"""JSONL: one object per image (or job without one), every state, in manifest order; metadata
nested as `metadata`."""

from producer.exports.destination import Destination
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult
from producer.exports.rows import json_line


def export_jsonl(rows: BatchRows, destination: Destination, name: str) -> ExportResult:
    count = 0
    with destination.new_file(name, "application/x-ndjson") as out:
        for row in rows.rows():
            out.write(json_line(row).encode())
            count += 1
        size = out.tell()
    return ExportResult(rows=count, images=0, bytes=size, location=destination.uri(name))
