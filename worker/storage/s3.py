"""Any S3-compatible endpoint (AWS, MinIO, R2) through boto3.

The endpoint and credentials are boto3's own: `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, profiles,
instance roles. Nothing here reads or logs a secret.
"""

from typing import Any, Self

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from jobs.errors import StorageError
from worker.spool import CHUNK_BYTES, ImageFile

#: connections of a client made for one caller (boto3's own default is 10)
DEFAULT_POOL_CONNECTIONS = 16
#: boto3 retries throttling and 5xx itself before a job's own retry takes over
_BOTO_RETRIES = {"max_attempts": 5, "mode": "adaptive"}
#: S3's largest single PUT: every image goes up as one request streamed from its spool; a
#: multipart upload would read each part into memory, and use threads of its own
_SINGLE_PUT_LIMIT = 5 * 1024**3
#: the upload runs in the calling worker thread (no transfer threads: the process already has one
#: thread per job in flight), streaming the spooled file in chunks
_TRANSFER = TransferConfig(
    use_threads=False,
    multipart_threshold=_SINGLE_PUT_LIMIT,
    io_chunksize=CHUNK_BYTES,
    preferred_transfer_client="classic",
)


def s3_client(max_connections: int = DEFAULT_POOL_CONNECTIONS) -> Any:
    """A boto3 S3 client with the retry policy, its pool sized for the threads sharing it.

    A client is not tied to a bucket and is thread-safe, and each costs ~13 MB: a process shares
    one among all its outputs (worker.storage.lookup).
    """
    config = Config(max_pool_connections=max_connections, retries=_BOTO_RETRIES)
    return boto3.session.Session().client("s3", config=config)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` as (bucket, "some/key"); the key is empty for a bare bucket."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class S3Storage:
    """Puts each image as one object carrying its job id and prompt hash as metadata."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    @classmethod
    def from_uri(cls, uri: str, client: Any | None = None) -> Self:
        """The storage at `uri`, through `client` (a new one when None)."""
        bucket, prefix = split_s3_uri(uri)
        if not bucket:
            raise ValueError(f"{uri!r} names no bucket: use s3://bucket/prefix")
        return cls(bucket, prefix, client if client is not None else s3_client())

    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        object_key = self.object_key(key)
        try:
            body.seek(0)
            self.client.upload_fileobj(
                body,
                self.bucket,
                object_key,
                ExtraArgs={"ContentType": content_type, "Metadata": metadata},
                Config=_TRANSFER,
            )
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise StorageError(
                f"S3 refused s3://{self.bucket}/{object_key}: "
                f"{error.get('Code', '?')} {error.get('Message', '')}".strip()
            ) from exc
        except BotoCoreError as exc:
            raise StorageError(
                f"S3 unreachable for s3://{self.bucket}/{object_key}: {exc}"
            ) from exc
        return f"s3://{self.bucket}/{object_key}"

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key
