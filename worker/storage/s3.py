"""Any S3-compatible endpoint (AWS, MinIO, R2) through boto3.

The endpoint and credentials are boto3's own: `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, profiles,
instance roles. Nothing here reads or logs a secret.
"""

from typing import Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from jobs.errors import StorageError
from worker.spool import ImageFile

#: connections of a client made for one caller (boto3's own default is 10)
DEFAULT_POOL_CONNECTIONS = 16
#: boto3 retries throttling and 5xx itself before a job's own retry takes over
_BOTO_RETRIES = {"max_attempts": 5, "mode": "adaptive"}


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
    """Puts each image as one object carrying its job id and prompt hash as metadata.

    One PutObject streamed from the spool, in the calling worker thread (the process already has
    a thread per job in flight). Not boto3's `upload_fileobj`: its transfer manager, futures and
    chunk wrappers cost about a quarter more CPU per 110 KB image (measured), and a multipart
    upload would read each part into memory; an image is far below S3's 5 GB single-PUT limit.
    """

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
            self.client.put_object(
                Bucket=self.bucket,
                Key=object_key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata,
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
