"""Storage backends: a local folder, and S3 through a real local S3 server, both streaming the
image from its spool."""

import io
import os
from pathlib import Path

import pytest

from jobs.errors import StorageError
from tests.support.images import spooled
from tests.support.services import S3Bucket
from tests.support.storages import open_storage
from worker.storage import LocalFolderStorage, S3Storage, object_key

#: bigger than a spool's memory threshold and than one copy chunk (64 KiB)
LARGE_BODY = os.urandom(300_000)


def test_object_keys_are_batch_then_job_key() -> None:
    assert object_key("b1", "campaign/sku-1/hero", "jpg") == "b1/campaign/sku-1/hero.jpg"


@pytest.mark.parametrize("key", ["../escape", "/etc/passwd", "a/../../b", "a\x00b", "a b"])
def test_a_key_that_could_escape_the_prefix_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match=r"keys must stay under|is absolute|is not allowed"):
        object_key("b1", key, "jpg")


@pytest.mark.parametrize("memory_bytes", [1024 * 1024, 1])
def test_the_local_folder_writes_the_whole_image_and_leaves_no_temp_file(
    tmp_path: Path, memory_bytes: int
) -> None:
    storage = open_storage(str(tmp_path / "out"))
    with spooled(LARGE_BODY, memory_bytes) as body:
        uri = storage.put("b1/a/x.jpg", body, "image/jpeg", {})
    assert Path(uri).read_bytes() == LARGE_BODY
    assert [p.name for p in (tmp_path / "out" / "b1" / "a").iterdir()] == ["x.jpg"]


class BrokenFile(io.BytesIO):
    """A spool whose disk fails half way through being read."""

    def read(self, size: int | None = -1, /) -> bytes:
        if self.tell() > 0:
            raise OSError(5, "Input/output error")
        return super().read(size)


def test_a_failed_local_write_is_a_storage_error_and_leaves_no_temp_file(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="Input/output error"):
        LocalFolderStorage(tmp_path).put("b1/x.jpg", BrokenFile(LARGE_BODY), "image/jpeg", {})
    assert list((tmp_path / "b1").iterdir()) == []


def test_the_local_folder_refuses_a_key_outside_it(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        LocalFolderStorage(tmp_path).put("../outside.jpg", io.BytesIO(b"x"), "image/jpeg", {})


def test_s3_stores_the_object_with_content_type_and_job_metadata(
    s3_bucket: S3Bucket, s3_in_env: dict[str, str]
) -> None:
    bucket, client = s3_bucket
    storage = open_storage(f"s3://{bucket}/prefix/")
    assert isinstance(storage, S3Storage)

    uri = storage.put("b1/x.jpg", io.BytesIO(b"\xff\xd8\xff"), "image/jpeg", {"job-id": "7"})

    assert uri == f"s3://{bucket}/prefix/b1/x.jpg"
    head = client.head_object(Bucket=bucket, Key="prefix/b1/x.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert head["Metadata"] == {"job-id": "7"}


def test_s3_uploads_a_spool_from_its_temp_file_whole_whatever_its_position(
    s3_bucket: S3Bucket, s3_in_env: dict[str, str]
) -> None:
    bucket, client = s3_bucket
    storage = open_storage(f"s3://{bucket}")

    with spooled(LARGE_BODY, memory_bytes=1) as body:
        storage.put("b1/big.jpg", body, "image/jpeg", {})

    stored = client.get_object(Bucket=bucket, Key="b1/big.jpg")
    assert stored["Body"].read() == LARGE_BODY


def test_an_s3_failure_is_a_storage_error_without_the_secret(
    s3_in_env: dict[str, str],
) -> None:
    storage = open_storage("s3://no-such-bucket-here/p")
    with pytest.raises(StorageError) as caught:
        storage.put("b/x.jpg", io.BytesIO(b"x"), "image/jpeg", {})
    assert "NoSuchBucket" in str(caught.value)
    assert s3_in_env["AWS_SECRET_ACCESS_KEY"] not in str(caught.value)
