"""Whether an output can take a batch's images: write a small object there, read it back, delete it.

`doctor` and the preflight of `run` and `submit` probe the output before a batch is recorded, so a
missing bucket or a folder nobody may write in is one line at once, not a million failed uploads
after a million paid images. The probe deletes what it wrote: it leaves nothing behind.
"""

import io
import secrets

from botocore.exceptions import ClientError, NoCredentialsError

from jobs.errors import StorageError
from worker.storage.base import Storage

#: the probe's name: hidden in a folder listing, and unique, so two probes at once never meet
PROBE_PREFIX = ".seedream-probe-"
#: what the probe writes: a few bytes prove writing, reading and deleting as well as an image
PROBE_BODY = b"seedream-batch output probe: safe to delete\n"

#: S3's codes for a bucket that is not there, and for credentials that may not do what was asked
_NO_BUCKET = frozenset({"NoSuchBucket"})
_DENIED = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled", "403"}
)


class ProbeFailed(RuntimeError):
    """A step of the probe failed; the message is one line: the location, which step, why, and
    what to do."""


def probe_storage(storage: Storage, location: str) -> None:
    """Write, read back and delete a probe object in `storage` (the output at `location`); raise
    ProbeFailed at the first step that fails."""
    key = f"{PROBE_PREFIX}{secrets.token_hex(8)}"
    step = "write"
    try:
        storage.put(key, io.BytesIO(PROBE_BODY), "text/plain", {})
        step = "read back"
        with storage.open(key) as found:
            read = None if found is None else found.body.read()
        if read != PROBE_BODY:
            raise StorageError("the object read back is not the one written")
        step = "delete"
        storage.delete(key)
    except (StorageError, OSError) as exc:
        raise ProbeFailed(
            f"{location}: cannot {step} a probe object: {exc}; {_advice(exc)}"
        ) from None


def _advice(exc: BaseException) -> str:
    """What to do about `exc`: S3's code (a StorageError's cause) or the file system's error."""
    cause = exc.__cause__ if isinstance(exc, StorageError) else exc
    if isinstance(cause, ClientError):
        code = str(cause.response.get("Error", {}).get("Code", ""))
        if code in _NO_BUCKET:
            return "the bucket does not exist: create it, or name another (--out, SEEDREAM_OUTPUT)"
        if code in _DENIED:
            return (
                "these credentials may not write there: check AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) and the bucket's policy"
            )
    if isinstance(cause, NoCredentialsError):
        return "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE)"
    if isinstance(cause, PermissionError):
        return "no permission: name a folder you may write in, or change its permissions"
    return "check --out or SEEDREAM_OUTPUT, and that the storage answers"
