"""Each output's storage, made once per worker process and shared by all its threads.

When hundreds of answers land at once, hundreds of threads ask for the same output's storage in
the same instant. Built without a lock, each made its own boto3 client (~13 MB each: 22-24 per
worker was usual, and peaks of 2 GB were measured), so storages are made under a lock. All S3
outputs share one client (it is not tied to a bucket): a long-lived worker that serves a new batch
every day holds one client, not one per batch.
"""

import threading
from typing import Any

from worker.storage import Storage, open_storage
from worker.storage.s3 import s3_client


class StorageLookup:
    """`lookup(output)`: the storage of a batch's output, made on first use."""

    def __init__(self, max_connections: int) -> None:
        self._max_connections = max_connections
        self._by_output: dict[str, Storage] = {}
        self._s3_client: Any = None
        self._lock = threading.Lock()

    def __call__(self, output: str) -> Storage:
        storage = self._by_output.get(output)  # the usual case: made already, no lock taken
        if storage is None:
            with self._lock:
                storage = self._by_output.get(output)
                if storage is None:
                    storage = open_storage(output, self._shared_s3_client)
                    self._by_output[output] = storage
        return storage

    def _shared_s3_client(self) -> Any:
        """The process's S3 client, made when the first S3 output is; called under the lock."""
        if self._s3_client is None:
            self._s3_client = s3_client(self._max_connections)
        return self._s3_client
