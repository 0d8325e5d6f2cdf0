"""Loading a manifest into a batch: chunks recorded and enqueued, bad rows reported, --strict."""

import json
from pathlib import Path

import pytest

from jobs.database import open_engine
from jobs.results import ResultsTable
from jobs.states import JobState
from producer import loader
from producer.loader import load_manifest
from producer.manifest import ManifestReader, RejectedRow


@pytest.fixture
def table(tmp_path: Path) -> ResultsTable:
    results = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    results.create_schema()
    return results


def manifest(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def load(table: ResultsTable, path: Path, *, strict: bool = False):
    batch = table.create_batch("b", str(path), "./out", "m")
    enqueued: list[list[int]] = []
    rejected: list[RejectedRow] = []
    with ManifestReader(path) as reader:
        report = load_manifest(
            table, batch, reader, enqueued.append, rejected.append, strict=strict
        )
    return report, enqueued, rejected


def test_good_rows_are_enqueued_in_chunks_as_they_are_recorded(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_SIZE", 4)
    path = manifest(tmp_path, [{"prompt": f"p{n}"} for n in range(10)])

    report, enqueued, rejected = load(table, path)

    assert [len(chunk) for chunk in enqueued] == [4, 4, 2]
    assert report.loaded == 10 and not rejected
    assert table.counts("b")[JobState.queued] == 10


def test_a_duplicate_key_is_rejected_with_both_lines_and_the_first_row_goes_on(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"id": "a", "prompt": "one"}, {"id": "a", "prompt": "two"}])

    report, enqueued, rejected = load(table, path)

    assert report.loaded == 1 and sum(map(len, enqueued)) == 1
    [row] = rejected
    assert row.line == 2
    assert str(row).startswith(f"{path}:2: id: duplicate key 'a': line 1 has it already")
    assert json.loads(row.raw) == {"id": "a", "prompt": "two"}
    assert table.get_batch("b").rejected == 1


def test_strict_refuses_a_manifest_with_a_bad_row_and_enqueues_nothing(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"prompt": "fine"}, {"prompt": "bad", "size": "9K"}])

    report, enqueued, rejected = load(table, path, strict=True)

    assert report.refused and len(rejected) == 1
    assert enqueued == []
    assert table.counts("b")[JobState.cancelled] == 1


def test_strict_enqueues_everything_when_every_row_is_good(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"prompt": "one"}, {"prompt": "two"}])

    report, enqueued, _ = load(table, path, strict=True)

    assert not report.refused
    assert sorted(sum(enqueued, [])) == [1, 2]
