"""A local folder: the embedded default, nothing to configure."""

import os
import tempfile
from pathlib import Path

from jobs.errors import StorageError


class LocalFolderStorage:
    """Writes each image atomically (temp file + rename): a crash never leaves half an image."""

    def __init__(self, folder: str | Path) -> None:
        self.root = Path(folder).resolve()

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> str:
        target = (self.root / key).resolve()
        if not target.is_relative_to(self.root):
            raise StorageError(f"object key {key!r} leaves the output folder")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                dir=target.parent, delete=False, suffix=".part"
            ) as tmp:
                tmp.write(data)
            os.replace(tmp.name, target)
        except OSError as exc:
            raise StorageError(f"could not write {target}: {exc.strerror or exc}") from exc
        return str(target)
