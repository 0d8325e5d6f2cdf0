"""CSV: one line per image (or job without one), every state, the model's input columns, one
`meta_<name>` column per metadata name; safe to open in a spreadsheet.

A cell a spreadsheet would run as a formula (OWASP "CSV injection": one starting with `=`, `+`,
`-`, `@`, a tab or a carriage return) is written with a leading `'`, which makes it text.
"""

import csv
import io
from datetime import datetime
from typing import Any

from producer.exports.destination import Destination
from producer.exports.reading import BatchRows
from producer.exports.result import ExportResult
from producer.exports.rows import flat_columns, flat_row

#: what a spreadsheet reads as the start of a formula (or hides one behind)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_csv(rows: BatchRows, destination: Destination, name: str) -> ExportResult:
    columns = rows.metadata_columns()
    header = flat_columns(rows.model, columns)
    count = 0
    with destination.new_file(name, "text/csv") as out:
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text)
        writer.writerow([spreadsheet_safe(column) for column in header])
        for row in rows.rows():
            writer.writerow([spreadsheet_safe(cell) for cell in flat_row(row, columns).values()])
            count += 1
        text.flush()
        text.detach()  # the destination closes the file, not the wrapper
        size = out.tell()
    return ExportResult(rows=count, images=0, bytes=size, location=destination.uri(name))


def spreadsheet_safe(value: Any) -> str:
    """`value` as cell text that no spreadsheet runs as a formula."""
    text = cell_text(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell_text(value: Any) -> str:
    """A value as CSV text: empty for null, JSON's true/false, ISO 8601 times."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
