"""Batches and jobs made for the results-table tests."""

from collections.abc import Iterator
from contextlib import contextmanager

from jobs.database import open_engine
from jobs.errors import ContentPolicy
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.records import EQUAL_SHARE, PaidCall, Share, StoredImage, StoredOutput
from jobs.results import ResultsTable
from jobs.schema import metadata
from jobs.spec import JobSpec

MODEL = "bytedance/seedream-4.0"


def specs(*keys: str) -> list[JobSpec]:
    return [
        JobSpec(key=k, line=n + 1, input=Seedream40Input(prompt=f"p {k}"))
        for n, k in enumerate(keys)
    ]


def loaded(
    table: ResultsTable,
    *keys: str,
    batch: str = "b",
    share: Share = EQUAL_SHARE,
    **budget: float,
) -> list[int]:
    """A new batch `batch` holding one queued job per key; returns their ids in order."""
    table.create_batch(batch, "m.jsonl", "./out", MODEL, share=share, **budget)  # type: ignore[arg-type]
    return table.add_jobs(batch, specs(*keys))


#: a call that returned one image, as most tests' calls do
ONE_IMAGE = PaidCall(images=1)


def stored(uri: str = "file:///x.jpg") -> StoredOutput:
    """One image stored at `uri`."""
    return StoredOutput((StoredImage(uri, 10, "0" * 64, 1024, 1024),), fetch_ms=1, store_ms=1)


def two_images(folder: str, key: str) -> StoredOutput:
    """Two images of the job `key`, stored as `{folder}/{key}/{n}.jpg`."""
    return StoredOutput(
        tuple(StoredImage(f"{folder}/{key}/{n}.jpg", 10, "0" * 64, 64, 64) for n in range(2)),
        fetch_ms=1,
        store_ms=1,
    )


def finished(
    table: ResultsTable, *keys: str, batch: str = "b", folder: str = "./out", failed: int = 1
) -> None:
    """A batch whose every job succeeded with two images (an attempt and two `job_images` rows
    each), but the last `failed`, which failed (an attempt each, no image)."""
    ids = loaded(table, *keys, batch=batch)
    for n, (job_id, key) in enumerate(zip(ids, keys, strict=True)):
        claim = table.claim(job_id, "w", 60)
        assert claim is not None
        if n < len(ids) - failed:
            table.record_succeeded(claim, "w", two_images(folder, key))
        else:
            table.record_failure(claim, "w", ContentPolicy("flagged"), 5, retry_in=0)


def emptied_table(url: str) -> ResultsTable:
    """The results table at `url` with no rows: its tables dropped and made again."""
    table = ResultsTable(open_engine(url))
    metadata.drop_all(table.engine)
    table.create_schema()
    return table


@contextmanager
def fresh_table(url: str) -> Iterator[ResultsTable]:
    """The results table at `url` with no rows, dropped again after the block, so that tests
    sharing one database see none of each other's rows."""
    table = emptied_table(url)
    try:
        yield table
    finally:
        metadata.drop_all(table.engine)
        table.engine.dispose()
