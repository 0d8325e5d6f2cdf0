"""Where images go: an S3-compatible bucket or a local folder, behind one small protocol."""

from collections.abc import Callable
from typing import Any

from worker.storage.base import Storage, object_key
from worker.storage.local import LocalFolderStorage
from worker.storage.s3 import S3Storage, s3_client

S3_SCHEME = "s3://"


def open_storage(output: str, shared_s3_client: Callable[[], Any] = s3_client) -> Storage:
    """The backend for a batch's `output`: `s3://bucket/prefix` (through the client
    `shared_s3_client` gives) or a folder path."""
    if output.startswith(S3_SCHEME):
        return S3Storage.from_uri(output, shared_s3_client())
    return LocalFolderStorage(output)


__all__ = ["LocalFolderStorage", "S3Storage", "Storage", "object_key", "open_storage"]
