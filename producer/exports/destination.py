"""Where an export lands (a folder, or a prefix in any storage), and where its images come from.

Both go through the worker's storage backends (worker.storage): the same key checks, the same
atomic local writes, the same S3 client settings, and one shared client per backend. A file
appears whole or not at all (Storage.create). Nothing here knows which backend it holds: a new
backend needs no change in export.
"""

from contextlib import AbstractContextManager
from typing import IO

from worker.storage import Storage, StorageLookup, StoredObject


class ImageSource:
    """Opens a stored image by the `output_uri` its job recorded, whichever storage holds it."""

    def __init__(self, storages: StorageLookup) -> None:
        self.storages = storages

    def open(self, uri: str) -> AbstractContextManager[StoredObject | None]:
        """The image streamed, and its size; None when it is no longer stored."""
        storage, key = self.storages.locate(uri)
        return storage.open(key)

    def copy(self, uri: str, target: Storage, key: str, content_type: str) -> bool:
        """Put the image stored at `uri` in `target` at `key`; False when it is no longer stored."""
        storage, stored_key = self.storages.locate(uri)
        return storage.copy_to(stored_key, target, key, content_type)


class Destination:
    """A folder or `scheme://bucket/prefix` that files are written into by relative name."""

    def __init__(self, root: str, storages: StorageLookup) -> None:
        self.root = root.rstrip("/") or root
        self.storage = storages(root)

    def uri(self, name: str) -> str:
        return f"{self.root}/{name}"

    def new_file(self, name: str, content_type: str) -> AbstractContextManager[IO[bytes]]:
        """A binary file to write; at the end of the block it is in place at `name`."""
        return self.storage.create(name, content_type)

    def copy_image(self, name: str, uri: str, source: ImageSource, content_type: str) -> bool:
        """Put the image stored at `uri` at `name`; False when it is no longer stored. Within one
        S3 endpoint the server copies it (with its metadata: job id, prompt hash)."""
        return source.copy(uri, self.storage, name, content_type)

    def holds_anything(self) -> bool:
        """True when the folder (or prefix) already has a file in it."""
        return next(self.storage.list(), None) is not None
