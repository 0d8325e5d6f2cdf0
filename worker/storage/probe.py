"""Whether an output can take a batch's images: write a small object there, read it back, delete it.

`doctor` and the preflight of `run` and `submit` probe the output before a batch is recorded, so a
missing bucket or a folder nobody may write in is one line at once, not a million failed uploads
after a million paid images. The probe deletes what it wrote: it leaves nothing behind.
"""

import io
import secrets

from jobs.errors import StorageError
from worker.storage.base import Storage
from worker.storage.s3 import failure_advice

#: the probe's name: hidden in a folder listing, and unique, so two probes at once never meet
PROBE_PREFIX = ".seedream-probe-"
#: what the probe writes: a few bytes prove writing, reading and deleting as well as an image
PROBE_BODY = b"seedream-batch output probe: safe to delete\n"


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
    """What to do about `exc`: S3's say (worker.storage.s3, the one module that speaks boto3),
    or the file system's."""
    cause = exc.__cause__ if isinstance(exc, StorageError) else exc
    s3_advice = failure_advice(cause)
    if s3_advice is not None:
        return s3_advice
    if isinstance(cause, PermissionError):
        return "no permission: name a folder you may write in, or change its permissions"
    return "check --out or SEEDREAM_OUTPUT, and that the storage answers"
