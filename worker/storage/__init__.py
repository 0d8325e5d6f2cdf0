"""Where images go: an S3-compatible bucket or a local folder, behind one small protocol."""

from worker.storage.base import Storage, object_key
from worker.storage.local import LocalFolderStorage
from worker.storage.s3 import S3Storage


def open_storage(output: str, max_connections: int = 16) -> Storage:
    """The backend for a batch's `output`: `s3://bucket/prefix` or a folder path."""
    if output.startswith("s3://"):
        return S3Storage.from_uri(output, max_connections=max_connections)
    return LocalFolderStorage(output)


__all__ = ["LocalFolderStorage", "S3Storage", "Storage", "object_key", "open_storage"]
