"""A local folder: the embedded default, nothing to configure."""

import os
import shutil
import tempfile
from pathlib import Path

from jobs.errors import StorageError
from worker.spool import CHUNK_BYTES, ImageFile


class LocalFolderStorage:
    """Writes each image atomically (temp file + rename): a crash never leaves half an image, and
    a failed write removes its temp file."""

    def __init__(self, folder: str | Path) -> None:
        self.root = Path(folder).resolve()

    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root):
            raise StorageError(f"object key {key!r} leaves the output folder")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(body, target)
        except OSError as exc:
            raise StorageError(f"could not write {target}: {exc.strerror or exc}") from exc
        return str(target)


def _write_atomically(body: ImageFile, target: Path) -> None:
    """Copy `body` in chunks to a temp file beside `target`, then rename it into place."""
    descriptor, part = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as out:
            body.seek(0)
            shutil.copyfileobj(body, out, CHUNK_BYTES)
        os.replace(part, target)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise
