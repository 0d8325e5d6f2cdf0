"""Loading a manifest into a batch: chunks recorded as due jobs, the dispatcher woken, bad rows
reported, --strict."""

import json
import sys
import tracemalloc
from pathlib import Path

import pytest

from jobs.database import open_engine
from jobs.results import ResultsTable
from jobs.spec import MAX_METADATA_VALUES
from jobs.states import JobState
from producer import loader
from producer.loader import LoadReport, load_manifest
from producer.manifest import ManifestReader, RejectedRow
from tests.support.dispatching import dispatched


@pytest.fixture
def table(tmp_path: Path) -> ResultsTable:
    results = ResultsTable(open_engine(f"sqlite:///{tmp_path / 'r.db'}"))
    results.create_schema()
    return results


def manifest(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


class Chunks:
    """A LoadProgress that keeps how many jobs each recorded chunk queued."""

    def __init__(self) -> None:
        self.queued: list[int] = []

    def advance(self, *, read: int = 0, rejected: int = 0, enqueued: int = 0) -> None:
        if enqueued:
            self.queued.append(enqueued)


def load(
    table: ResultsTable, path: Path, *, strict: bool = False, wakes: list[None] | None = None
) -> tuple[LoadReport, list[int], list[RejectedRow]]:
    """Load `path` as batch `b`; returns the report, the jobs queued per chunk, the bad rows."""
    batch = table.create_batch("b", str(path), "./out", "m")
    chunks = Chunks()
    rejected: list[RejectedRow] = []
    woken = wakes if wakes is not None else []
    with ManifestReader(path) as reader:
        report = load_manifest(
            table,
            batch,
            reader,
            lambda: woken.append(None),
            rejected.append,
            strict=strict,
            progress=chunks,
        )
    return report, chunks.queued, rejected


def test_good_rows_are_queued_in_chunks_each_waking_the_dispatcher(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_ROWS", 4)
    path = manifest(tmp_path, [{"prompt": f"p{n}"} for n in range(10)])
    wakes: list[None] = []

    report, queued, rejected = load(table, path, wakes=wakes)

    assert queued == [4, 4, 2]
    assert len(wakes) == 3
    assert report.loaded == 10
    assert not rejected
    assert table.counts("b")[JobState.queued] == 10
    assert len(dispatched(table)) == 10  # due at once


def test_a_duplicate_key_is_rejected_with_both_lines_and_the_first_row_goes_on(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"id": "a", "prompt": "one"}, {"id": "a", "prompt": "two"}])

    report, queued, rejected = load(table, path)

    assert report.loaded == 1
    assert sum(queued) == 1
    [row] = rejected
    assert row.line == 2
    assert str(row).startswith(f"{path}:2: id: duplicate key 'a': line 1 has it already")
    assert json.loads(row.raw) == {"id": "a", "prompt": "two"}
    batch = table.get_batch("b")
    assert batch is not None
    assert batch.rejected == 1


def test_strict_refuses_a_manifest_with_a_bad_row_and_runs_nothing(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"prompt": "fine"}, {"prompt": "bad", "size": "9K"}])

    report, queued, rejected = load(table, path, strict=True)

    assert report.refused
    assert len(rejected) == 1
    assert queued == []
    assert table.counts("b")[JobState.cancelled] == 1
    assert dispatched(table) == []


def test_strict_runs_everything_once_every_row_is_known_to_be_good(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"prompt": "one"}, {"prompt": "two"}])
    wakes: list[None] = []

    report, queued, _ = load(table, path, strict=True, wakes=wakes)

    assert not report.refused
    assert queued == [2]
    assert wakes == [None]  # once, at the end
    assert sorted(dispatched(table)) == [1, 2]


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
        report = load_manifest(table, batch, reader, lambda: None, lambda row: None, progress=tally)

    assert (tally.read, tally.rejected, tally.enqueued) == (10, 2, 8)
    assert (report.loaded, report.rejected) == (8, 2)


def test_progress_counts_a_row_of_variants_once_and_chunks_count_its_jobs(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_ROWS", 4)
    path = manifest(tmp_path, [{"id": "a", "prompt": "p", "variants": 3}, {"prompt": "q"}])
    batch = table.create_batch("b", str(path), "./out", "m")
    tally, chunks = Tally(), Chunks()

    with ManifestReader(path, variants=2) as reader:
        load_manifest(table, batch, reader, lambda: None, lambda row: None, progress=tally)
    with ManifestReader(path, variants=2) as reader:
        load_manifest(table, table.create_batch("c", str(path), "./out", "m"), reader,
                      lambda: None, lambda row: None, progress=chunks)  # fmt: skip

    assert (tally.read, tally.rejected, tally.enqueued) == (2, 0, 5)
    assert chunks.queued == [4, 1]


def test_a_chunk_ends_early_when_its_inline_images_are_large(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_BYTES", 100_000)
    image = "https://example.com/" + "x" * 40_000 + ".png"
    path = manifest(tmp_path, [{"prompt": f"p{n}", "image": image} for n in range(5)])

    _, queued, _ = load(table, path)

    assert queued == [3, 2]


def test_a_chunk_ends_early_when_its_metadata_holds_many_values(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_BYTES", 100_000)
    rows: list[dict[str, object]] = [
        {"prompt": f"p{n}", "tags": [[] for _ in range(500)]} for n in range(5)
    ]
    path = manifest(tmp_path, rows)

    _, queued, _ = load(table, path)

    # 500 empty lists are 1.5 KB of JSON but ~36 KB of Python objects
    assert queued == [3, 2]


def _loading_peak(table: ResultsTable, path: Path, batch_id: str) -> int:
    """The most memory (traced allocations) loading `path` as a new batch took."""
    batch = table.create_batch(batch_id, str(path), "./out", "m")
    tracemalloc.start()
    try:
        with ManifestReader(path) as reader:
            load_manifest(table, batch, reader, lambda: None, lambda row: None)
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


def test_a_failure_while_recording_stops_the_load_and_is_raised(
    table: ResultsTable, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(loader, "CHUNK_ROWS", 2)
    path = manifest(tmp_path, [{"prompt": f"p{n}"} for n in range(20)])
    batch = table.create_batch("b", str(path), "./out", "m")

    def broker_down() -> None:
        raise ConnectionError("redis is gone")

    with ManifestReader(path) as reader, pytest.raises(ConnectionError, match="redis is gone"):
        load_manifest(table, batch, reader, broker_down, lambda row: None)
    # the chunks read ahead of the failure are not stored after it
    assert table.counts("b")[JobState.queued] <= 2 * (loader.CHUNKS_AHEAD + 1)


def test_the_thread_switch_interval_is_short_while_loading_and_restored_after(
    table: ResultsTable, tmp_path: Path
) -> None:
    path = manifest(tmp_path, [{"prompt": "p"}])
    batch = table.create_batch("b", str(path), "./out", "m")
    before = sys.getswitchinterval()
    seen: list[float] = []

    def wake_then_fail() -> None:
        seen.append(sys.getswitchinterval())
        raise ConnectionError("redis is gone")

    with ManifestReader(path) as reader, pytest.raises(ConnectionError):
        load_manifest(table, batch, reader, wake_then_fail, lambda row: None)

    assert seen == [loader.STORING_SWITCH_INTERVAL_S]
    assert sys.getswitchinterval() == before
