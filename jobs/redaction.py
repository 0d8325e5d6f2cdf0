"""One function, `redact`, masks secrets in any text this process records or logs.

The settings hold the secrets (the API token, the S3 secret key, the webhook secret and URL, the
passwords in the broker, limiter and database URLs) and register them here when they are read
(`config.settings.get_settings`): config imports jobs, so the secrets come to this module rather
than it reaching for them. Text is masked where it leaves the process's memory: the results
table's writes (jobs.claims, jobs.recovery) and every log record (`install_log_redaction`), so a
message built anywhere, by our code or a library's, passes through here.

Three things are masked wherever they appear, registered or not: the query of a URL (a
provider's signed link carries `X-Amz-Signature=…`), the password in a URL's user info, and the
credentials of an Authorization header (`Bearer …`, `Basic …`, SigV4's `Signature=…`, which
boto3 logs at DEBUG).
"""

import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, unquote

#: what a secret is replaced with
MASK = "[redacted]"
#: loggers that at INFO log every request with its full URL (a signed link, a webhook's key)
QUIET_LOGGERS = ("httpx", "httpcore")

_SCHEME = r"\b[a-zA-Z][a-zA-Z0-9+.-]*://"
#: `scheme://user:password@` (the password group is masked)
_URL_PASSWORD = re.compile(rf"({_SCHEME}[^\s:/@'\"<>]*:)[^\s/@'\"<>]+@")
#: `scheme://host/path?query` (the query is masked, the host and path kept for the reader)
_URL_QUERY = re.compile(rf"({_SCHEME}[^\s?#'\"<>]*)\?[^\s#'\"<>]+")
#: `Bearer <token>`, `Basic <base64>`, `Signature=<hex>` (the credential is masked); 8 characters
#: at least, so that prose ("Basic auth") is left alone
_AUTHORIZATION = re.compile(r"(\b(?:Bearer|Basic) +|\bSignature=)[\w.~+/=-]{8,}")

_lock = threading.Lock()
#: longest first, so a secret that contains another is masked whole; replaced, never mutated
_secrets: tuple[str, ...] = ()
_formatter = logging.Formatter()


def register_secrets(values: Iterable[str | None]) -> None:
    """Mask each of `values` from now on, as given and URL-encoded (as it sits in a URL)."""
    global _secrets
    forms = {form for value in values if value for form in (value, quote(value, safe=""))}
    forms |= {unquote(form) for form in forms}
    with _lock:
        _secrets = tuple(sorted(set(_secrets) | forms, key=len, reverse=True))


def redact(text: str) -> str:
    """`text` with every registered secret, URL password, URL query and Authorization
    credential replaced by MASK."""
    for secret in _secrets:
        text = text.replace(secret, MASK)
    text = _URL_PASSWORD.sub(rf"\1{MASK}@", text)
    text = _AUTHORIZATION.sub(rf"\1{MASK}", text)
    return _URL_QUERY.sub(rf"\1?{MASK}", text)


def describe_error(exc: BaseException) -> str:
    """`TypeName: text`, redacted: what a recorded message says of an exception. Never its repr,
    which quotes the bytes it choked on (an `Authorization` header, a whole token)."""
    text = redact(str(exc))
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def install_log_redaction() -> None:
    """Mask secrets in every log record this process makes, and keep httpx and httpcore at
    WARNING. Idempotent.

    A record factory rather than a handler's filter: it sees every record, whatever handlers
    Celery, a test or a user's logging config adds later, and those of loggers that do not
    propagate to the root.
    """
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    with _lock:
        factory = logging.getLogRecordFactory()
        if not isinstance(factory, _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(factory))


class _RedactingFactory:
    """Makes records as `make` does, their message, traceback and stack already redacted."""

    def __init__(self, make: Callable[..., logging.LogRecord]) -> None:
        self._make = make

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self._make(*args, **kwargs)
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # arguments that do not fit the format
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(_formatter.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return record
