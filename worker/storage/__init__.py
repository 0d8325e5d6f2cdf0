"""Where images go: an S3-compatible bucket or a local folder, behind one interface
(worker.storage.base), each found by its location's URI scheme (worker.storage.backends)."""

from worker.storage.base import Storage, StoredObject, object_key
from worker.storage.local import LocalFolderStorage
from worker.storage.lookup import StorageLookup
from worker.storage.s3 import S3Storage

__all__ = [
    "LocalFolderStorage",
    "S3Storage",
    "Storage",
    "StorageLookup",
    "StoredObject",
    "object_key",
]
