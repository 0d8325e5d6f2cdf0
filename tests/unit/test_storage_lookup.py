"""A worker builds each storage once, however many threads ask at the same moment, and all its
S3 outputs share one boto3 client: each client costs ~13 MB, and hundreds of answers landing at
once used to build one per thread."""

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3.session
import pytest

from worker.storage import LocalFolderStorage, Storage
from worker.storage.lookup import StorageLookup

THREADS = 300


@pytest.fixture
def s3_clients_built(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every boto3 client built in this test, by service name."""
    built: list[str] = []
    build: Callable[..., Any] = boto3.session.Session.client  # forwards any service name

    def counted(session: boto3.session.Session, service: str, *args: Any, **kwargs: Any) -> Any:
        built.append(service)
        return build(session, service, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", counted)
    return built


def storages_from_threads(lookup: StorageLookup, outputs: list[str]) -> list[Storage]:
    """What `lookup` gives THREADS threads released together, each asking for one of `outputs`."""
    start = threading.Barrier(THREADS)
    found: list[Storage] = []

    def ask(output: str) -> None:
        start.wait()
        found.append(lookup(output))

    threads = [
        threading.Thread(target=ask, args=(outputs[n % len(outputs)],)) for n in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return found


def test_hundreds_of_threads_asking_at_once_share_one_storage_and_one_client(
    s3_clients_built: list[str],
) -> None:
    found = storages_from_threads(StorageLookup(THREADS), ["s3://bucket/prefix"])

    assert len(found) == THREADS
    assert len({id(storage) for storage in found}) == 1
    assert s3_clients_built == ["s3"]


def test_every_s3_output_shares_the_one_client(s3_clients_built: list[str]) -> None:
    outputs = [f"s3://bucket-{n}/batch-{n}" for n in range(5)]
    found = storages_from_threads(StorageLookup(THREADS), outputs)

    assert len({id(storage) for storage in found}) == len(outputs)
    assert s3_clients_built == ["s3"]


def test_a_local_folder_builds_no_s3_client(tmp_path: Path, s3_clients_built: list[str]) -> None:
    found = storages_from_threads(StorageLookup(THREADS), [str(tmp_path / "out")])

    assert len({id(storage) for storage in found}) == 1
    assert isinstance(found[0], LocalFolderStorage)
    assert s3_clients_built == []
