"""Why a job failed, as exceptions a caller catches by class, never by parsing a message.

JobError
├── TransientError      retried with backoff and jitter, up to the attempt limit
│   ├── RateLimited         rate_limited    429 / 3040, gateway limit
│   ├── ServerError         server_error    5xx, provider unavailable
│   ├── ProviderTimeout     timeout         408 / 3007 / 3008, connect or read error
│   ├── StorageError        storage         the image could not be written
│   ├── LostConnection      internal        the worker lost Redis or the database mid-attempt
│   └── ReuseWait           reuse_wait      another job is paying for the same image: this one
│                                           waits to copy it                (not counted)
└── FinalError          recorded and not retried
    ├── InvalidInput        invalid_input   400 / 5006 / 3003 / 5004, unknown model, 413
    ├── ContentPolicy       content_policy  prompt or image refused by moderation
    ├── AuthError           auth            401 / 403 / 3023, bad token, 2009s with no
    │                                       success for minutes                        (pauses)
    ├── QuotaExceeded       quota           daily allocation or spend limit, 402, a
    │                                       gateway refusing everything for long       (pauses)
    ├── BadImage            bad_image       the provider's bytes are not an image we accept
    └── ProgramError        internal        a bug in the worker: another attempt would repeat it

`worker_lost` has no exception: the reaper records it on an attempt whose worker died (its lease
expired). It is retried. `auth` and `quota` say nothing about the job, only about the account:
they pause the whole batch instead of failing the job, and `resume` carries on once fixed. What
each failure does to its job is decided in one place, `jobs.failure_policy`.
"""

from enum import StrEnum
from typing import ClassVar


class ErrorClass(StrEnum):
    """The class recorded on a failed attempt (whether it is retried is the exception's
    `retryable`: `internal` is retried when a connection was lost, not when the code is wrong)."""

    rate_limited = "rate_limited"
    server_error = "server_error"
    timeout = "timeout"
    storage = "storage"
    invalid_input = "invalid_input"
    content_policy = "content_policy"
    auth = "auth"
    quota = "quota"
    bad_image = "bad_image"
    internal = "internal"
    worker_lost = "worker_lost"
    reuse_wait = "reuse_wait"

    @property
    def pauses_batch(self) -> bool:
        """True when the error is the account's, not the job's: every other job would hit it."""
        return self in _PAUSING


_PAUSING = frozenset({ErrorClass.auth, ErrorClass.quota})


class JobError(Exception):
    """A job's attempt failed; `error_class` is what the results table records."""

    error_class: ClassVar[ErrorClass]
    #: True when the same request may well succeed later
    retryable: ClassVar[bool]

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        provider_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        #: seconds the provider asked us to wait (`Retry-After`), when it said so
        self.retry_after = retry_after
        #: the provider's numeric error code that decided the class (2009, 3040, ...), if any:
        #: the limiter tells a capacity 429 (3040) from a rate 429, and an over-rate 2009 from a
        #: bad token, by it
        self.provider_code = provider_code


class TransientError(JobError):
    """A failure worth another attempt."""

    retryable = True


class FinalError(JobError):
    """A failure that another identical attempt would repeat."""

    retryable = False


class RateLimited(TransientError):
    error_class = ErrorClass.rate_limited


class ServerError(TransientError):
    error_class = ErrorClass.server_error


class ProviderTimeout(TransientError):
    error_class = ErrorClass.timeout


class StorageError(TransientError):
    error_class = ErrorClass.storage


class LostConnection(TransientError):
    """Redis, the database or another service the worker needs went away mid-attempt: the job
    itself is fine, and the next attempt (once the connection is back) may well succeed."""

    error_class = ErrorClass.internal


class ReuseWait(TransientError):
    """Another job with the same content address (jobs.content_address) is being paid for: this
    one is not called, and comes back to copy that job's image once it is stored. Nothing is
    wrong with the job, so the wait does not count against its attempts."""

    error_class = ErrorClass.reuse_wait


class InvalidInput(FinalError):
    error_class = ErrorClass.invalid_input


class ContentPolicy(FinalError):
    error_class = ErrorClass.content_policy


class AuthError(FinalError):
    error_class = ErrorClass.auth


class QuotaExceeded(FinalError):
    error_class = ErrorClass.quota


class BadImage(FinalError):
    error_class = ErrorClass.bad_image


class ProgramError(FinalError):
    """An exception nobody expected: a bug in the worker's code. Another attempt would run the
    same code on the same input, and could pay for another image before failing again, so the
    job fails at once (`retry` runs it again once the bug is fixed)."""

    error_class = ErrorClass.internal
