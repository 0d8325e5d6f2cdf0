"""Loading a manifest into a batch: chunks recorded and enqueued, bad rows reported, --strict."""

import itertools
import json
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import pytest

from jobs.database import open_engine
from jobs.results import ResultsTable
from jobs.spec import MAX_METADATA_VALUES
from jobs.states import JobState
from producer import loader
from producer.loader import LoadReport, load_manifest
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


def load(
    table: ResultsTable, path: Path, *, strict: bool = False
) -> tuple[LoadReport, list[Sequence[int]], list[RejectedRow]]:
    batch = table.create_batch("b", str(path), "./out", "m")
    enqueued: list[Sequence[int]] = []
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
    assert report.loaded == 10
    assert not rejected
    assert table.counts("b")[JobState.queued] == 10


def test_a_duplicate_key_is_rejected_with_both_lines_and_the_first_row_goes_on(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"id": "a", "prompt": "one"}, {"id": "a", "prompt": "two"}])

    report, enqueued, rejected = load(table, path)

    assert report.loaded == 1
    assert sum(map(len, enqueued)) == 1
    [row] = rejected
    assert row.line == 2
    assert str(row).startswith(f"{path}:2: id: duplicate key 'a': line 1 has it already")
    assert json.loads(row.raw) == {"id": "a", "prompt": "two"}
    batch = table.get_batch("b")
    assert batch is not None
    assert batch.rejected == 1


def test_strict_refuses_a_manifest_with_a_bad_row_and_enqueues_nothing(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"prompt": "fine"}, {"prompt": "bad", "size": "9K"}])

    report, enqueued, rejected = load(table, path, strict=True)

    assert report.refused
    assert len(rejected) == 1
    assert enqueued == []
    assert table.counts("b")[JobState.cancelled] == 1


def test_strict_enqueues_everything_when_every_row_is_good(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"prompt": "one"}, {"prompt": "two"}])

    report, enqueued, _ = load(table, path, strict=True)

    assert not report.refused
    assert sorted(itertools.chain.from_iterable(enqueued)) == [1, 2]


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
    monkeypatch.setattr(loader, "CHUNK_BYTES", 100_000)
    image = "https://example.com/" + "x" * 40_000 + ".png"
    path = manifest(tmp_path, [{"prompt": f"p{n}", "image": image} for n in range(5)])

    _, enqueued, _ = load(table, path)

    assert [len(chunk) for chunk in enqueued] == [3, 2]


def test_a_chunk_ends_early_when_its_metadata_holds_many_values(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_BYTES", 100_000)
    rows: list[dict[str, object]] = [
        {"prompt": f"p{n}", "tags": [[] for _ in range(500)]} for n in range(5)
    ]
    path = manifest(tmp_path, rows)

    _, enqueued, _ = load(table, path)

    # 500 empty lists are 1.5 KB of JSON but ~36 KB of Python objects
    assert [len(chunk) for chunk in enqueued] == [3, 2]


def _loading_peak(table: ResultsTable, path: Path, batch_id: str) -> int:
    """The most memory (traced allocations) loading `path` as a new batch took."""
    batch = table.create_batch(batch_id, str(path), "./out", "m")
    tracemalloc.start()
    try:
        with ManifestReader(path) as reader:
            load_manifest(table, batch, reader, lambda ids: None, lambda row: None)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_loading_memory_stays_flat_however_many_rows_carry_heavy_metadata(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_BYTES", 512 * 1024, raising=False)
    tags = list(range(1000, 1000 + MAX_METADATA_VALUES - 2))  # 28 bytes an int, 8 a slot
    peaks = []
    for count in (60, 240):
        rows: list[dict[str, object]] = [{"prompt": f"p{n}", "tags": tags} for n in range(count)]
        peaks.append(_loading_peak(table, manifest(tmp_path, rows), f"b{count}"))

    assert table.counts("b240")[JobState.queued] == 240
    # four times the rows (8 MB of them in memory), about the same peak
    assert peaks[1] < peaks[0] * 1.5, peaks


def test_rejected_rows_are_reported_in_line_order_duplicates_included(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_ROWS", 3)
    rows: list[dict[str, object]] = [{"id": f"k{n}", "prompt": f"p{n}"} for n in range(6)]
    rows[1] = {"id": "k0", "prompt": "duplicate"}
    rows[2] = {"prompt": "bad", "size": "9K"}
    rows[4] = {"id": "k3", "prompt": "duplicate"}
    rows[5] = {"prompt": "bad", "size": "9K"}
    path = manifest(tmp_path, rows)

    _, _, rejected = load(table, path)

    assert [row.line for row in rejected] == [2, 3, 5, 6]


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
