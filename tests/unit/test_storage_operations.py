"""Every storage operation export relies on, run against each backend: a local folder, and S3 on
a real local S3 server. One suite over both, so a backend cannot quietly differ from the others
(and a new backend is tested by adding it to BACKENDS below)."""

import io
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from jobs.errors import StorageError
from tests.support.services import S3Bucket
from tests.support.storages import open_storage
from worker.storage import LocalFolderStorage, Storage

#: the backends under test, by the name the test ids show
BACKENDS = ["folder", "s3"]
#: bigger than one copy chunk (64 KiB) and than a spool's memory threshold
BODY = os.urandom(300_000)

MakeStorage = Callable[[str], Storage]


@pytest.fixture
def s3_location(s3_bucket: S3Bucket, s3_in_env: dict[str, str]) -> str:
    """A new bucket, with boto3's environment pointing at the local S3 server."""
    return f"s3://{s3_bucket[0]}"


def storage_maker(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> MakeStorage:
    """Makes storages of backend `kind`, each at its own folder or prefix `name`."""
    if kind == "folder":
        return lambda name: open_storage(str(tmp_path / kind / name))
    location: str = request.getfixturevalue("s3_location")
    return lambda name: open_storage(f"{location}/{name}")


@pytest.fixture(params=BACKENDS)
def make_storage(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStorage:
    return storage_maker(request.param, request, tmp_path)


@pytest.fixture(params=BACKENDS)
def make_target(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStorage:
    """A second backend, for copies between any two."""
    return storage_maker(request.param, request, tmp_path / "target")


def read(storage: Storage, key: str) -> bytes | None:
    with storage.open(key) as found:
        if found is None:
            return None
        data = found.body.read()
        assert len(data) == found.size
        return data


def put(storage: Storage, key: str, data: bytes = BODY) -> str:
    return storage.put(key, io.BytesIO(data), "image/jpeg", {"job-id": "7"})


def test_open_streams_what_was_put_with_its_size(make_storage: MakeStorage) -> None:
    storage = make_storage("p")
    put(storage, "b1/a/x.jpg")

    with storage.open("b1/a/x.jpg") as found:
        assert found is not None
        assert found.size == len(BODY)
        assert found.body.read(1000) == BODY[:1000]  # read in pieces, as a tar writer does
        assert found.body.read() == BODY[1000:]


def test_open_of_a_key_never_stored_is_none(make_storage: MakeStorage) -> None:
    storage = make_storage("p")
    put(storage, "b1/x.jpg")

    assert read(storage, "b1/y.jpg") is None
    assert read(storage, "b2/x.jpg") is None


def test_a_created_file_is_stored_whole_at_the_end_of_its_block_and_not_before(
    make_storage: MakeStorage,
) -> None:
    storage = make_storage("p")

    with storage.create("exports/b1.jsonl", "application/x-ndjson") as out:
        for start in range(0, len(BODY), 50_000):
            out.write(BODY[start : start + 50_000])
        assert read(storage, "exports/b1.jsonl") is None
        assert list(storage.list()) == []

    assert read(storage, "exports/b1.jsonl") == BODY
    assert list(storage.list()) == ["exports/b1.jsonl"]


def test_a_created_file_whose_block_fails_leaves_nothing(make_storage: MakeStorage) -> None:
    storage = make_storage("p")

    def failing_export() -> None:
        with storage.create("b1.csv", "text/csv") as out:
            out.write(b"half a file")
            raise RuntimeError("the export failed")

    with pytest.raises(RuntimeError, match="the export failed"):
        failing_export()

    assert read(storage, "b1.csv") is None
    assert list(storage.list()) == []


def test_list_gives_every_key_under_a_folder_and_nothing_of_a_neighbour(
    make_storage: MakeStorage,
) -> None:
    storage, neighbour = make_storage("p"), make_storage("p2")
    for key in ["a/1.jpg", "a/b/2.jpg", "ab/3.jpg", "c.jpg"]:
        put(storage, key)
    put(neighbour, "a/4.jpg")

    assert sorted(storage.list()) == ["a/1.jpg", "a/b/2.jpg", "ab/3.jpg", "c.jpg"]
    assert sorted(storage.list("a")) == ["a/1.jpg", "a/b/2.jpg"]
    assert sorted(storage.list("a/")) == ["a/1.jpg", "a/b/2.jpg"]
    assert list(storage.list("nothing")) == []
    assert list(make_storage("empty").list()) == []


def test_copy_to_any_backend_stores_the_same_bytes(
    make_storage: MakeStorage, make_target: MakeStorage
) -> None:
    source, target = make_storage("images"), make_target("datasets")
    put(source, "b1/x.jpg")

    assert source.copy_to("b1/x.jpg", target, "v1/x.jpg", "image/jpeg")

    assert read(target, "v1/x.jpg") == BODY
    assert list(target.list()) == ["v1/x.jpg"]


def test_copy_to_of_an_object_no_longer_stored_is_false_and_writes_nothing(
    make_storage: MakeStorage, make_target: MakeStorage
) -> None:
    source, target = make_storage("images"), make_target("datasets")

    assert not source.copy_to("b1/gone.jpg", target, "v1/gone.jpg", "image/jpeg")

    assert list(target.list()) == []


def test_copy_to_streams_so_memory_does_not_grow_with_the_object(
    make_storage: MakeStorage, make_target: MakeStorage
) -> None:
    big = os.urandom(16 * 1024 * 1024)
    source, target = make_storage("images"), make_target("datasets")
    put(source, "big.jpg", big)

    tracemalloc.start()
    try:
        assert source.copy_to("big.jpg", target, "big.jpg", "image/jpeg")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert peak < len(big) // 4
    assert read(target, "big.jpg") == big


def test_s3_to_s3_on_one_endpoint_is_copied_by_the_server_with_its_metadata(
    s3_location: str, s3_bucket: S3Bucket
) -> None:
    bucket, client = s3_bucket
    source, target = open_storage(f"{s3_location}/images"), open_storage(f"{s3_location}/v1")
    put(source, "b1/x.jpg")

    assert source.copy_to("b1/x.jpg", target, "x.jpg", "application/octet-stream")

    copied = client.head_object(Bucket=bucket, Key="v1/x.jpg")
    assert copied["Metadata"] == {"job-id": "7"}  # what a server-side copy keeps
    assert copied["ContentType"] == "image/jpeg"


def test_s3_to_another_endpoint_is_streamed_through_this_machine(
    s3_location: str,
    s3_bucket: S3Bucket,
    s3_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bucket, client = s3_bucket
    source = open_storage(f"{s3_location}/images")
    other_name = s3_env["AWS_ENDPOINT_URL"].replace("127.0.0.1", "localhost")
    monkeypatch.setenv("AWS_ENDPOINT_URL", other_name)  # the same server, another endpoint
    elsewhere = open_storage(f"{s3_location}/v1")
    put(source, "b1/x.jpg")

    assert source.copy_to("b1/x.jpg", elsewhere, "x.jpg", "image/png")

    copied = client.head_object(Bucket=bucket, Key="v1/x.jpg")
    assert copied["Metadata"] == {}
    assert copied["ContentType"] == "image/png"
    assert read(elsewhere, "x.jpg") == BODY


@pytest.mark.parametrize("key", ["../outside.jpg", "a/../../outside.jpg"])
def test_the_local_folder_refuses_to_open_or_list_outside_itself(tmp_path: Path, key: str) -> None:
    (tmp_path / "outside.jpg").write_bytes(b"x")
    storage = LocalFolderStorage(tmp_path / "store")

    with pytest.raises(StorageError), storage.open(key):
        pass
    with pytest.raises(StorageError):
        list(storage.list(".."))
