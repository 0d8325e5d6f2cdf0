"""Batches and jobs made for the results-table tests."""

from jobs.models.seedream_4_0 import Seedream40Input
from jobs.records import EQUAL_SHARE, PaidCall, Share, StoredImage, StoredOutput
from jobs.results import ResultsTable
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
    ids, duplicates = table.add_jobs(batch, specs(*keys))
    assert not duplicates
    return ids


#: a call that returned one image, as most tests' calls do
ONE_IMAGE = PaidCall(images=1)


def stored(uri: str = "file:///x.jpg") -> StoredOutput:
    """One image stored at `uri`."""
    return StoredOutput((StoredImage(uri, 10, "0" * 64, 1024, 1024),), fetch_ms=1, store_ms=1)
