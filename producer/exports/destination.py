"""Where an export lands (a local folder or an S3 prefix), and where its images come from.

Writing goes through the worker's storage backends (`worker.storage`): the same key checks, the
same atomic local writes, the same S3 client settings. A file appears whole or not at all: a local
one is written beside its target and renamed, an S3 one is written to a temporary file and put in
one request.
"""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import boto3
from botocore.exceptions import ClientError

from jobs.errors import StorageError
from worker.spool import CHUNK_BYTES, open_spool
from worker.storage import LocalFolderStorage, open_storage
from worker.storage.s3 import S3Storage, split_s3_uri

#: an S3 image is spooled (it must be seekable to be put again) in memory up to this, then on disk
IMAGE_SPOOL_BYTES = 8 * 1024 * 1024


class Destination:
    """A folder or `s3://bucket/prefix` that files are written into by relative name."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/") or root
        self.storage = open_storage(root)

    def uri(self, name: str) -> str:
        return f"{self.root}/{name}"

    @contextmanager
    def new_file(self, name: str, content_type: str) -> Iterator[IO[bytes]]:
        """A binary file to write; at the end of the block it is in place at `name`."""
        if isinstance(self.storage, LocalFolderStorage):
            with _local_file(self.storage.root / name) as out:
                yield out
            return
        with tempfile.TemporaryFile(prefix="seedream-export-") as out:
            yield out
            self.storage.put(name, out, content_type, {})

    def copy_image(self, name: str, uri: str, source: "ImageSource", content_type: str) -> bool:
        """Put the image stored at `uri` at `name`; False when it is no longer stored.

        From S3 to S3 the server copies it (CopyObject, with the object's own metadata: its job
        id and prompt hash), so a million images do not travel through the exporting machine;
        from anywhere else it is read and written."""
        if uri.startswith("s3://") and isinstance(self.storage, S3Storage):
            return self._copy_in_s3(self.storage, name, uri)
        with source.open(uri) as found:
            if found is None:
                return False
            self.storage.put(name, found[0], content_type, {})
        return True

    @staticmethod
    def _copy_in_s3(storage: S3Storage, name: str, uri: str) -> bool:
        bucket, key = split_s3_uri(uri)
        target = storage.object_key(name)
        try:
            storage.client.copy_object(
                Bucket=storage.bucket, Key=target, CopySource={"Bucket": bucket, "Key": key}
            )
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                return False
            raise StorageError(f"S3 refused to copy {uri} to s3://{storage.bucket}/{target}: "
                               f"{code}") from exc  # fmt: skip
        return True

    def holds_anything(self) -> bool:
        """True when the folder (or prefix) already has a file in it."""
        if isinstance(self.storage, LocalFolderStorage):
            root = self.storage.root
            return root.is_dir() and any(root.iterdir())
        prefix = f"{self.storage.prefix}/" if self.storage.prefix else ""
        listing = self.storage.client.list_objects_v2(
            Bucket=self.storage.bucket, Prefix=prefix, MaxKeys=1
        )
        return bool(listing.get("KeyCount"))


@contextmanager
def _local_file(target: Path) -> Iterator[IO[bytes]]:
    target.parent.mkdir(parents=True, exist_ok=True)
    descriptor, part = tempfile.mkstemp(dir=target.parent, suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as out:
            yield out
        os.replace(part, target)
    except BaseException:
        Path(part).unlink(missing_ok=True)
        raise


class ImageSource:
    """Opens a stored image by the `output_uri` its job recorded: a local path or an S3 URI."""

    def __init__(self) -> None:
        self._s3: Any = None

    @contextmanager
    def open(self, uri: str) -> Iterator[tuple[IO[bytes], int] | None]:
        """The image as a seekable binary file and its size; None when it is not there."""
        if uri.startswith("s3://"):
            with self._open_s3(uri) as found:
                yield found
            return
        try:
            image = open(uri, "rb")
        except FileNotFoundError:
            yield None
            return
        with image:
            yield image, os.fstat(image.fileno()).st_size

    @contextmanager
    def _open_s3(self, uri: str) -> Iterator[tuple[IO[bytes], int] | None]:
        bucket, key = split_s3_uri(uri)
        if self._s3 is None:
            self._s3 = boto3.session.Session().client("s3")
        try:
            body = self._s3.get_object(Bucket=bucket, Key=key)["Body"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("NoSuchKey", "404"):
                raise StorageError(f"S3 refused {uri}: {code}") from exc
            body = None
        if body is None:
            yield None
            return
        with open_spool(IMAGE_SPOOL_BYTES) as spool:
            shutil.copyfileobj(body, spool, CHUNK_BYTES)
            size = spool.tell()
            spool.seek(0)
            yield spool, size
