"""Any S3-compatible endpoint (AWS, MinIO, R2) through boto3.

The endpoint and credentials are boto3's own: `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, profiles,
instance roles. Nothing here reads or logs a secret.
"""

from typing import Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from jobs.errors import StorageError

#: boto3 retries throttling and 5xx itself before a job's own retry takes over
_BOTO_RETRIES = {"max_attempts": 5, "mode": "adaptive"}


class S3Storage:
    """Puts each image as one object carrying its job id and prompt hash as metadata."""

    def __init__(self, bucket: str, prefix: str, client: Any) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.client = client

    @classmethod
    def from_uri(cls, uri: str, max_connections: int = 16) -> Self:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise ValueError(f"{uri!r} names no bucket: use s3://bucket/prefix")
        config = Config(max_pool_connections=max_connections, retries=_BOTO_RETRIES)
        return cls(bucket, prefix, boto3.session.Session().client("s3", config=config))

    def put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> str:
        object_key = f"{self.prefix}/{key}" if self.prefix else key
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=object_key,
                Body=data,
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
