"""The storage interface every backend implements, and the one rule for naming objects.

Workers only `put`; export also writes files of unknown size (`create`), reads stored images
(`open`), copies them to another storage (`copy_to`) and checks a destination is empty (`list`);
`doctor` and the preflight of `run` and `submit` remove the probe object they wrote (`delete`).
Everything that differs between backends lives behind these methods, so export never asks which
backend it holds, and a new backend is one module plus its scheme in worker.storage.backends.
"""

import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import IO, NamedTuple

from jobs.keys import validate_key
from worker.spool import CHUNK_BYTES, ImageFile


class StoredObject(NamedTuple):
    """An object being read: a stream from its start, and its size (a tar header needs it first)."""

    body: IO[bytes]
    size: int


class Storage(ABC):
    """Objects under keys relative to one location (a folder, a bucket and prefix).

    A remote backend raises every failure of its own as jobs.errors.StorageError, so callers
    handle one exception whatever the backend (a local disk's failure may be an OSError).
    """

    @abstractmethod
    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        """Store the whole of `body` (from its start, streamed) at `key`; return the object's URI.

        The worker's one write: its image is spooled already, so the body is seekable and whole.
        """

    @abstractmethod
    def open(self, key: str) -> AbstractContextManager[StoredObject | None]:
        """The object at `key` streamed for the time of the block; None when it is not there.

        A stream, not the bytes: an export reads a million images one chunk at a time.
        """

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """The keys under the folder `prefix` (all of them when empty), lazily, in no set order.

        Lazy, because a bucket may hold millions: whoever needs only the first stops there.
        """

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object at `key`; an object that is not there is no error.

        Only the output probe deletes, and only what it wrote itself: no image is ever deleted.
        """

    @contextmanager
    def create(self, key: str, content_type: str) -> Iterator[IO[bytes]]:
        """A binary file to write; at the end of the block it is stored whole at `key`.

        For a file whose size is known only once written (an export's table, a tar shard). By
        default it goes to a temporary file and is then put in one request, which any backend
        that stores whole objects can do; a backend that can write in place atomically does so.
        """
        with tempfile.TemporaryFile(prefix="seedream-export-") as out:
            yield out
            self.put(key, out, content_type, {})

    @abstractmethod
    def uri(self, key: str) -> str:
        """The URI of the object at `key`: what `put` returns for it."""

    def copy_to(
        self,
        key: str,
        target: "Storage",
        target_key: str,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> bool:
        """Store the object at `key` in `target` at `target_key`; False when it is not there.
        `metadata` replaces the object's own (a reused image names its new job); without it an
        export's copy keeps what it had where the backend can.

        By default it is streamed through this machine: a seekable body (a local file) is put
        as it is, any other is written through `target.create`. A backend that can copy on the
        server side (S3 to the same endpoint) overrides this for the targets it can reach.
        """
        with self.open(key) as found:
            if found is None:
                return False
            if found.body.seekable():
                target.put(target_key, found.body, content_type, metadata or {})
            else:
                with target.create(target_key, content_type) as out:
                    shutil.copyfileobj(found.body, out, CHUNK_BYTES)
        return True


def object_key(batch_id: str, job_key: str, extension: str) -> str:
    """`{batch}/{job key}.{ext}`: deterministic, so a retried upload overwrites its own object.

    Both parts are validated again here: storage is the last line before a path is written.
    """
    return f"{validate_key(batch_id)}/{validate_key(job_key)}.{extension}"
