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
    monkeypatch.setattr(loader, "CHUNK_ROWS", 4)
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


class Tally:
    """A LoadProgress that adds up what it is told."""

    def __init__(self) -> None:
        self.read = self.rejected = self.enqueued = 0

    def advance(self, *, read: int = 0, rejected: int = 0, enqueued: int = 0) -> None:
        self.read += read
        self.rejected += rejected
        self.enqueued += enqueued


def test_progress_is_told_every_row_read_rejected_and_enqueued(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_ROWS", 3)
    rows: list[dict[str, object]] = [{"id": f"k{n}", "prompt": f"p{n}"} for n in range(8)]
    rows += [{"id": "k1", "prompt": "again"}, {"prompt": "bad", "size": "9K"}]
    path = manifest(tmp_path, rows)
    batch = table.create_batch("b", str(path), "./out", "m")
    tally = Tally()

    with ManifestReader(path) as reader:
        report = load_manifest(
            table, batch, reader, lambda ids: None, lambda row: None, progress=tally
        )

    assert (tally.read, tally.rejected, tally.enqueued) == (10, 2, 8)
    assert (report.loaded, report.rejected) == (8, 2)


def test_a_chunk_ends_early_when_its_inline_images_are_large(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_IMAGE_CHARS", 50)
    image = "https://example.com/" + "x" * 20 + ".png"
    path = manifest(tmp_path, [{"prompt": f"p{n}", "image": image} for n in range(5)])

    _, enqueued, _ = load(table, path)

    assert [len(chunk) for chunk in enqueued] == [2, 2, 1]


def test_a_failure_to_enqueue_stops_the_load_and_is_raised(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_ROWS", 2)
    path = manifest(tmp_path, [{"prompt": f"p{n}"} for n in range(20)])
    batch = table.create_batch("b", str(path), "./out", "m")

    def broker_down(ids: object) -> None:
        raise ConnectionError("redis is gone")

    with ManifestReader(path) as reader, pytest.raises(ConnectionError, match="redis is gone"):
        load_manifest(table, batch, reader, broker_down, lambda row: None)
    # the chunks read ahead of the failure are not stored after it
    assert table.counts("b")[JobState.queued] <= 2 * (loader.CHUNKS_AHEAD + 1)
