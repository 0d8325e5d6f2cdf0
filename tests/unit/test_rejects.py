"""The rejects file: bad rows written back in the manifest's format, to be fixed and resubmitted."""

import json
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from jobs.database import open_engine
from jobs.results import ResultsTable
from jobs.spec import JobSpec
from producer import loader
from producer.loader import load_manifest
from producer.manifest import (
    ManifestError,
    ManifestFormat,
    ManifestReader,
    RejectedRow,
    read_manifest,
)
from producer.rejects import RejectsWriter


def reject_all(manifest: Path, rejects: Path) -> list[RejectedRow]:
    """Read `manifest`, write its bad rows to `rejects`, return them."""
    rejected = [row for row in read_manifest(manifest) if isinstance(row, RejectedRow)]
    with RejectsWriter.for_manifest(manifest, rejects) as writer:
        for row in rejected:
            writer.write(row)
    return rejected


def same_rows(rows: Sequence[JobSpec | RejectedRow]) -> list[tuple[object, str]]:
    """What makes two rejections the same: their problems and their text (not their line)."""
    assert all(isinstance(row, RejectedRow) for row in rows), rows
    return [(row.problems, row.raw) for row in rows if isinstance(row, RejectedRow)]


def test_a_jsonl_rejects_file_reads_back_as_the_same_bad_rows(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_bytes(
        b'{"prompt": "good"}\n'
        b'{"prompt": "bad size", "size": "5K", "caption": {"nested": [1, 2]}}\r\n'
        b'{"prompt": "broken",\n'
        b'["not", "an", "object"]\n'
        b'{"prompt": "caf\xe9 is latin-1"}\n'
        b'{"prompt": "a\x00nul"}\n'
        b'{"id": "../up", "prompt": "x", "width": 1024}\n'
        b"\n"
        b'{"prompt": "also good"}\n'
    )
    rejects = tmp_path / "rejects.jsonl"
    rejected = reject_all(manifest, rejects)
    assert [row.line for row in rejected] == [2, 3, 4, 5, 6, 7]
    again = list(read_manifest(rejects))
    assert same_rows(again) == same_rows(rejected)
    assert [row.line for row in again] == [1, 2, 3, 4, 5, 6]
    assert b"caf\xe9 is latin-1" in rejects.read_bytes()


def test_a_csv_rejects_file_reads_back_as_the_same_bad_rows(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_bytes(
        b"id,prompt,size,width,height,caption,\r\n"
        b"a,good,2K,,,,\r\n"
        b'b,"bad size\r\nover two lines",5K,,,c,\r\n'
        b"c,too many,1K,,,c,,extra\r\n"
        b"d,caf\xe9,1K,,,,\r\n"
        b"e,custom without height,custom,2048,,,\r\n"
        b"f,stray value,1K,,,,stray\r\n"
        b'g,"a "quoted" word",1K,,,,\r\n'
        b"h,also good,,,,,\r\n"
        b'i,"never closed,1K,,,,\r\n'
        b"j,swallowed,1K,,,,\r\n"
    )
    rejects = tmp_path / "rejects.csv"
    rejected = reject_all(manifest, rejects)
    assert [row.line for row in rejected] == [3, 5, 6, 7, 8, 9, 11]
    again = list(read_manifest(rejects))
    assert same_rows(again) == same_rows(rejected)


def test_a_csv_rejects_file_starts_with_the_manifests_header(tmp_path: Path) -> None:
    manifest = tmp_path / "m.csv"
    manifest.write_text("\ufeff id,prompt,size , note\nx,a cat,5K,\n", encoding="utf-8")
    rejects = tmp_path / "bad.csv"
    reject_all(manifest, rejects)
    assert rejects.read_text(encoding="utf-8") == "id,prompt,size,note\nx,a cat,5K,\n"


def test_no_bad_rows_leave_an_empty_rejects_file_and_an_earlier_one_is_emptied(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"prompt": "fine"}\n', encoding="utf-8")
    rejects = tmp_path / "rejects.jsonl"
    rejects.write_text('{"prompt": "from an earlier run", "size": "5K"}\n', encoding="utf-8")
    assert reject_all(manifest, rejects) == []
    assert rejects.read_text(encoding="utf-8") == ""


@pytest.mark.parametrize(
    ("manifest_name", "rejects_name", "message"),
    [
        ("m.csv", "rejects.jsonl", "a rejects file is csv like its manifest: name it *.csv"),
        ("m.jsonl", "rejects.txt", "unknown manifest format '.txt'"),
    ],
)
def test_the_rejects_file_is_named_for_the_manifests_format(
    tmp_path: Path, manifest_name: str, rejects_name: str, message: str
) -> None:
    manifest = tmp_path / manifest_name
    manifest.write_text(
        "prompt\na cat\n" if manifest_name.endswith(".csv") else "", encoding="utf-8"
    )
    with pytest.raises(ManifestError, match=re.escape(message)):
        RejectsWriter.for_manifest(manifest, tmp_path / rejects_name)
    assert not (tmp_path / rejects_name).exists()


def test_an_ndjson_rejects_file_serves_a_jsonl_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"size": "1K"}\n', encoding="utf-8")
    rejected = reject_all(manifest, tmp_path / "rejects.ndjson")
    assert same_rows(list(read_manifest(tmp_path / "rejects.ndjson"))) == same_rows(rejected)


def test_the_rejects_file_must_not_be_the_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"size": "1K"}\n', encoding="utf-8")
    with pytest.raises(ManifestError, match="must not be the manifest itself"):
        RejectsWriter.for_manifest(manifest, tmp_path / "." / "m.jsonl")
    assert manifest.read_text(encoding="utf-8") == '{"size": "1K"}\n'


def test_a_rejects_file_that_cannot_be_written_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="cannot write the rejects file"):
        RejectsWriter(tmp_path / "no-such-folder" / "r.jsonl", ManifestFormat.jsonl, None)


def test_the_rejects_file_keeps_the_manifests_line_order_duplicates_included(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_ROWS", 2)
    manifest = tmp_path / "m.jsonl"
    lines = [
        {"id": "a", "prompt": "first"},
        {"id": "a", "prompt": "duplicate of line 1"},
        {"prompt": "bad size", "size": "5K"},
        {"id": "b", "prompt": "second"},
        {"id": "b", "prompt": "duplicate of line 4"},
        {"prompt": "bad size again", "size": "5K"},
    ]
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    table = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    table.create_schema()
    batch = table.create_batch("b", str(manifest), "./out", "m")

    with (
        ManifestReader(manifest) as reader,
        RejectsWriter.for_manifest(manifest, tmp_path / "rejects.jsonl") as writer,
    ):
        load_manifest(table, batch, reader, lambda: None, writer.write)

    written = (tmp_path / "rejects.jsonl").read_text().splitlines()
    assert [json.loads(line)["prompt"] for line in written] == [
        "duplicate of line 1", "bad size", "duplicate of line 4", "bad size again"
    ]  # fmt: skip
