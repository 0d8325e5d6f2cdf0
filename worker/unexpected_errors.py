"""What an exception nobody classed means for the job: a lost connection, or a bug.

The pipeline classes what it expects (the provider's answers, downloads, storage) as JobErrors.
Anything else reaches its catch-all, and is one of two things:

* **a lost connection**: Redis, the database or the network went away mid-attempt. The job is
  fine and the connection comes back: it is retried (`jobs.errors.LostConnection`).
* **a program error**: a bug (TypeError, KeyError, AttributeError...). Another attempt runs the
  same code on the same input and fails the same way, possibly after paying for another image:
  the job fails at once (`jobs.errors.ProgramError`); `retry` runs it once the bug is fixed.

Lost connections are told by type, not by message. They are:

* `OSError`: what the operating system reports about the world, not the code: refused, reset or
  timed-out sockets (`ConnectionError`, `TimeoutError`), name resolution, TLS, a full disk.
* `httpx.TransportError`: a network error of an HTTP client that no layer classed.
* SQLAlchemy's `OperationalError` (the database went away, refused a connection, or SQLite was
  locked), `DisconnectionError`, `TimeoutError` (no pooled connection came free), and any
  driver error SQLAlchemy found to be a dropped connection (`connection_invalidated`).
* redis-py's `ConnectionError` (and its `BusyLoadingError`) and `TimeoutError`.
"""

import httpx
import redis.exceptions
import sqlalchemy.exc

from jobs.errors import JobError, LostConnection, ProgramError
from jobs.redaction import describe_error

#: the exception types that mean a connection was lost (the module's docstring says why)
LOST_CONNECTION_TYPES: tuple[type[Exception], ...] = (
    OSError,
    httpx.TransportError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
#: how much of an unexpected exception's text an attempt records
MESSAGE_CHARS = 500


def is_lost_connection(exc: Exception) -> bool:
    """True when `exc` says a connection was lost, not that the code is wrong."""
    if isinstance(exc, LOST_CONNECTION_TYPES):
        return True
    return isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated


def unexpected_error(exc: Exception) -> JobError:
    """The JobError an unexpected exception is recorded as: both are of class `internal`; a
    lost connection is retried, a program error fails the job and says so."""
    text = describe_error(exc)[:MESSAGE_CHARS]
    if is_lost_connection(exc):
        return LostConnection(text)
    return ProgramError(f"program error (not retried): {text}")
