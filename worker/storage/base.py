"""The storage protocol and the one rule for naming objects."""

from typing import Protocol

from jobs.keys import validate_key
from worker.spool import ImageFile


class Storage(Protocol):
    """Writes one job's image under a key relative to the output prefix."""

    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        """Store the whole of `body` (from its start, streamed) at `key`; return the object's URI.

        Raises jobs.errors.StorageError.
        """
        ...


def object_key(batch_id: str, job_key: str, extension: str) -> str:
    """`{batch}/{job key}.{ext}`: deterministic, so a retried upload overwrites its own object.

    Both parts are validated again here: storage is the last line before a path is written.
    """
    return f"{validate_key(batch_id)}/{validate_key(job_key)}.{extension}"
