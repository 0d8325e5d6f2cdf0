"""Any S3-compatible endpoint (AWS, MinIO, R2) through boto3.

The endpoint and credentials are boto3's own: `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, profiles,
instance roles. Nothing here reads or logs a secret. Every S3 client of the product is made by
`s3_client`, so each one carries the same retry policy.
"""

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING, Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from jobs.errors import StorageError
from worker.spool import ImageFile
from worker.storage.base import Storage, StoredObject

if TYPE_CHECKING:
    from botocore.config import _RetryDict  # botocore-stubs' type of Config(retries=...)

#: connections of a client made for one caller (boto3's own default is 10)
DEFAULT_POOL_CONNECTIONS = 16
#: boto3 retries throttling and 5xx itself before a job's own retry takes over
BOTO_RETRIES: "_RetryDict" = {"max_attempts": 5, "mode": "adaptive"}

#: the error codes S3 answers for an object that is not there
_MISSING = ("NoSuchKey", "404")
#: S3's codes for a bucket that is not there, and for credentials that may not do what was asked
_NO_BUCKET = frozenset({"NoSuchBucket"})
_DENIED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "403"}
)


def s3_client(max_connections: int = DEFAULT_POOL_CONNECTIONS) -> Any:
    """A boto3 S3 client with the retry policy, its pool sized for the threads sharing it.

    A client is not tied to a bucket and is thread-safe, and each costs ~13 MB: a process shares
    one among all its outputs (worker.storage.lookup). A client boto3 cannot make (a profile
    that is not there) is a StorageError like any other failure of the backend.
    """
    config = Config(max_pool_connections=max_connections, retries=BOTO_RETRIES)
    with _as_storage_errors("its client"):
        return boto3.session.Session().client("s3", config=config)


def split_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/some/key` as (bucket, "some/key"); the key is empty for a bare bucket."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class S3Storage(Storage):
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
    def from_uri(cls, uri: str, client: Any) -> Self:
        """The storage at `uri` (`s3://bucket/prefix`), through `client`."""
        bucket, prefix = split_s3_uri(uri)
        if not bucket:
            raise ValueError(f"{uri!r} names no bucket: use s3://bucket/prefix")
        return cls(bucket, prefix, client)

    def put(self, key: str, body: ImageFile, content_type: str, metadata: dict[str, str]) -> str:
        uri = self.uri(key)
        with _as_storage_errors(uri):
            body.seek(0)
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=body,
                ContentType=content_type,
                Metadata=metadata,
            )
        return uri

    @contextmanager
    def open(self, key: str) -> Iterator[StoredObject | None]:
        """The object's body as boto3 streams it: nothing is read before the caller reads."""
        with _as_storage_errors(self.uri(key)):
            try:
                answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            except ClientError as exc:
                if _error_code(exc) not in _MISSING:
                    raise
                answer = None
            if answer is None:
                yield None
                return
            with closing(answer["Body"]) as body:
                yield StoredObject(body, answer["ContentLength"])

    def list(self, prefix: str = "") -> Iterator[str]:
        folder = "/".join(part for part in (self.prefix, prefix.strip("/")) if part)
        listed = f"{folder}/" if folder else ""
        own = f"{self.prefix}/" if self.prefix else ""
        with _as_storage_errors(f"s3://{self.bucket}/{listed}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=listed
            )
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"].removeprefix(own)

    def delete(self, key: str) -> None:
        """S3 answers a key that is not there with success too."""
        with _as_storage_errors(self.uri(key)):
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))

    def copy_to(
        self,
        key: str,
        target: Storage,
        target_key: str,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> bool:
        """On the same endpoint the server copies the object (CopyObject), with its own type and
        metadata (its job id and prompt hash) unless `metadata` replaces them: a million images
        do not travel through the exporting machine. Anywhere else it is streamed
        (Storage.copy_to)."""
        if not (isinstance(target, S3Storage) and target.endpoint == self.endpoint):
            return super().copy_to(key, target, target_key, content_type, metadata)
        replaced: dict[str, Any] = {}
        if metadata is not None:
            replaced = {
                "MetadataDirective": "REPLACE", "Metadata": metadata, "ContentType": content_type
            }  # fmt: skip
        with _as_storage_errors(f"copying {self.uri(key)} to {target.uri(target_key)}"):
            try:
                target.client.copy_object(
                    Bucket=target.bucket,
                    Key=target.object_key(target_key),
                    CopySource={"Bucket": self.bucket, "Key": self.object_key(key)},
                    **replaced,
                )
            except ClientError as exc:
                if _error_code(exc) in _MISSING:
                    return False
                raise
        return True

    @property
    def endpoint(self) -> str:
        """The endpoint the client speaks to: storages on one endpoint can copy server-side."""
        return str(self.client.meta.endpoint_url)

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self.object_key(key)}"

    def object_key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key


def failure_advice(cause: BaseException | None) -> str | None:
    """What a user does about an S3 failure (the cause of a StorageError): a bucket to create,
    credentials to check; None when it is not S3's, or S3 said nothing a user can act on."""
    if isinstance(cause, NoCredentialsError):
        return "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    if not isinstance(cause, ClientError):
        return None
    if _error_code(cause) in _NO_BUCKET:
        return "the bucket does not exist: create it, or name another (--out, SEEDREAM_OUTPUT)"
    if _error_code(cause) in _DENIED:
        return (
            "these credentials may not write there: check AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy"
        )
    return None


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "?"))


@contextmanager
def _as_storage_errors(what: str) -> Iterator[None]:
    """botocore's failures as StorageError naming `what`: callers handle one exception for every
    backend, and the text carries S3's code and message, never a credential."""
    try:
        yield
    except ClientError as exc:
        message = exc.response.get("Error", {}).get("Message", "")
        raise StorageError(f"S3 refused {what}: {_error_code(exc)} {message}".strip()) from exc
    except BotoCoreError as exc:
        raise StorageError(f"S3 unreachable for {what}: {exc}") from exc
