"""Storages as the tests make them: each on its own, through the product's one lookup."""

from worker.storage import Storage, StorageLookup

#: a test's storage serves one thread
_CONNECTIONS = 2


def open_storage(location: str) -> Storage:
    """The storage at `location` (a folder or `s3://bucket/prefix`), with a client of its own."""
    return StorageLookup(_CONNECTIONS)(location)
