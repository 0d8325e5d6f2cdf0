"""CSV export: safe to open in a spreadsheet, and a table file's destination."""

import csv
import io
from datetime import UTC, datetime

import pytest

from producer.exports.csv_export import FORMULA_STARTS, cell_text, spreadsheet_safe
from producer.exports.run import table_target

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_a_spreadsheet_would_run_gets_a_leading_quote(value: str) -> None:
    assert spreadsheet_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["a mug on oak", "'quoted", "1=1", "e-mail", "", "ünïcode"])
def test_an_ordinary_cell_is_written_as_it_is(value: str) -> None:
    assert spreadsheet_safe(value) == value


def test_values_become_plain_cell_text() -> None:
    assert cell_text(None) == ""
    assert cell_text(True) == "true"
    assert cell_text(0.03) == "0.03"
    assert cell_text(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00+00:00"
    assert spreadsheet_safe(-5) == "'-5"  # every cell, numbers too (OWASP)


def test_hostile_cells_survive_a_round_trip_through_the_csv_module_defused() -> None:
    text = io.StringIO(newline="")
    csv.writer(text).writerow([spreadsheet_safe(value) for value in HOSTILE])
    cells = next(csv.reader(io.StringIO(text.getvalue(), newline="")))
    assert cells == ["'" + value for value in HOSTILE]
    assert not any(cell.startswith(FORMULA_STARTS) for cell in cells)


@pytest.mark.parametrize(
    ("to", "expected"),
    [
        ("exports", ("exports", "b1.csv")),
        ("exports/", ("exports/", "b1.csv")),
        ("exports/run.csv", ("exports", "run.csv")),
        ("run.csv", (".", "run.csv")),
        ("/run.csv", ("/", "run.csv")),
        ("s3://bucket/prefix", ("s3://bucket/prefix", "b1.csv")),
        ("s3://bucket/prefix/run.csv", ("s3://bucket/prefix", "run.csv")),
    ],
)
def test_a_table_export_goes_to_the_file_named_or_to_the_batch_name_in_the_folder(
    to: str, expected: tuple[str, str]
) -> None:
    assert table_target(to, "b1", "csv") == expected
