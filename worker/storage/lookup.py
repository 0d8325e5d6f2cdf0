"""Each location's storage, made once per process and shared by all its threads.

When hundreds of answers land at once, hundreds of threads ask for the same output's storage in
the same instant. Built without a lock, each made its own boto3 client (~13 MB each: 22-24 per
worker was usual, and peaks of 2 GB were measured), so storages are made under a lock. All the
storages of one backend share one client (it is not tied to a bucket): a long-lived worker that
serves a new batch every day holds one client, not one per batch.
"""

import threading
from typing import Any

from worker.storage.backends import BACKENDS, registered_scheme, split_location
from worker.storage.base import Storage
from worker.storage.local import LocalFolderStorage


class StorageLookup:
    """`lookup(location)`: the storage at a batch's output (or an export's destination), made on
    first use; `lookup.locate(uri)`: the storage holding a stored object, and its key there."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._by_location: dict[str, Storage] = {}
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, location: str) -> Storage:
        storage = self._by_location.get(location)  # the usual case: made already, no lock taken
        if storage is None:
            with self._lock:
                storage = self._by_location.get(location)
                if storage is None:
                    storage = self._open(location)
                    self._by_location[location] = storage
        return storage

    def locate(self, uri: str) -> tuple[Storage, str]:
        """The storage holding the object at `uri` (an `output_uri` a job recorded), and its key."""
        root, key = split_location(uri)
        return self(root), key

    def _open(self, location: str) -> Storage:
        """A new storage at `location`; its backend's client is made with the first; under the
        lock."""
        scheme = registered_scheme(location)
        if scheme is None:
            return LocalFolderStorage(location)
        backend = BACKENDS[scheme]
        if scheme not in self._clients:
            self._clients[scheme] = backend.connect(self._max_connections)
        return backend.at(location, self._clients[scheme])
