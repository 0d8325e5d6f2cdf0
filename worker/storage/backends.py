"""Which backend serves a location, by its URI scheme.

A location `scheme://...` whose scheme is registered here is served by that backend; anything
else is a local folder, as a path always was. A new backend (GCS or Azure through fsspec, say) is
its own module implementing worker.storage.base.Storage, plus its one entry in BACKENDS: nothing
that uses storage (the pipeline, export) changes.
"""

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.storage.base import Storage
from worker.storage.s3 import S3Storage, s3_client


@dataclass(frozen=True)
class Backend:
    """How the storages of one URI scheme are made."""

    #: the client all of a process's storages of this scheme share (clients are costly: S3's
    #: ~13 MB each), its connection pool sized for the threads that share it
    connect: Callable[[int], Any]
    #: the storage at a location of this scheme, through that client
    at: Callable[[str, Any], Storage]


#: every backend reached by a URI scheme
BACKENDS: dict[str, Backend] = {
    "s3": Backend(connect=s3_client, at=S3Storage.from_uri),
}


def registered_scheme(location: str) -> str | None:
    """The scheme of `location` when a backend serves it; None for a local folder."""
    scheme, separator, _ = location.partition("://")
    return scheme if separator and scheme in BACKENDS else None


def split_location(uri: str) -> tuple[str, str]:
    """(where the storage holding the object at `uri` is, the object's key in it).

    The storage is the widest one the URI names (`s3://bucket`, or the file system's root for a
    path), so that a process reading objects from anywhere holds one storage per bucket, not one
    per folder.
    """
    scheme = registered_scheme(uri)
    if scheme is None:
        path = Path(uri).absolute()
        return path.anchor, path.relative_to(path.anchor).as_posix()
    container, _, key = uri.removeprefix(f"{scheme}://").partition("/")
    return f"{scheme}://{container}", key
