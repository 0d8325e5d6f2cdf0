"""A local folder: the embedded default, nothing to configure."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from jobs.errors import StorageError
from worker.spool import CHUNK_BYTES, ImageFile
from worker.storage.base import Storage, StoredObject

#: the name of a file being written, beside its target until renamed: not an object yet
_PART_PREFIX, _PART_SUFFIX = ".seedream-", ".part"


class LocalFolderStorage(Storage):
    """Writes each file atomically (temp file beside it, then rename): a crash never leaves half
    an image, and a failed write removes its temp file."""

    def __init__(self, folder: str | Path) -> None:
        self.root = Path(folder).resolve()

    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        target = self._path(key)
        try:
            with _atomic_file(target) as out:
                body.seek(0)
                shutil.copyfileobj(body, out, CHUNK_BYTES)
        except OSError as exc:
            raise StorageError(f"could not write {target}: {exc.strerror or exc}") from exc
        return self.uri(key)

    def uri(self, key: str) -> str:
        return str(self._path(key))

    @contextmanager
    def create(self, key: str, content_type: str) -> Iterator[IO[bytes]]:
        """Written in place beside its target, not through a temporary file elsewhere: a file of
        gigabytes (a shard, a table) is written once."""
        with _atomic_file(self._path(key)) as out:
            yield out

    @contextmanager
    def open(self, key: str) -> Iterator[StoredObject | None]:
        try:
            image = open(self._path(key), "rb")
        except FileNotFoundError:
            yield None
            return
        with image:
            yield StoredObject(image, os.fstat(image.fileno()).st_size)

    def list(self, prefix: str = "") -> Iterator[str]:
        for folder, _, files in os.walk(self._path(prefix)):
            relative = Path(folder).relative_to(self.root)
            for name in files:
                if not (name.startswith(_PART_PREFIX) and name.endswith(_PART_SUFFIX)):
                    yield (relative / name).as_posix()

    def delete(self, key: str) -> None:
        target = self._path(key)
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"could not delete {target}: {exc.strerror or exc}") from exc

    def _path(self, key: str) -> Path:
        """`key` under the folder; a key that would leave it is refused."""
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root):
            raise StorageError(f"object key {key!r} leaves the output folder")
        return target


@contextmanager
def _atomic_file(target: Path) -> Iterator[IO[bytes]]:
    """A temp file beside `target`, renamed into place at the end of the block (removed if the
    block fails)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, part = tempfile.mkstemp(dir=target.parent, prefix=_PART_PREFIX, suffix=_PART_SUFFIX)
    try:
        with os.fdopen(descriptor, "wb") as out:
            yield out
        os.replace(part, target)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
