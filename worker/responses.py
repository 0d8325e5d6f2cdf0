"""What a Cloudflare answer means: an image, or the JobError docs/cloudflare-api.md gives it.

Pure functions over status, headers and body, so every shape is tested without a network. A 2xx
whose body is an image (by Content-Type), or JSON whose `result` holds images as the model answers
them (`jobs.models`: `result.image`, `result.images`; URLs, base64 or data URIs), is a success
with every image it holds, unless it says `"success": false` or `"state": "Failed"`.
Failures come in four shapes and all are read into (code, message) pairs:

    {"success": false, "errors": [{"code": 3040, "message": "..."}]}    errors may be one object
    {"state": "Failed", "error": {"code": "provider_unavailable", "message": "..."}}
    {"name": "AiGatewayError", "internalCode": 2009, "message": "..."}  error may be a list
    {"error": {"code": "internal_error", "message": "4006: ..."}}       the code leads the message

AI Gateway refuses an over-rate call with exactly `{"success": false, "result": [], "error":
[{"code": 2009, "message": "Unauthorized"}], "name": "AiGatewayError", "httpCode": 401,
"internalCode": 2009}`: `error` as a list, the code twice (read once). `httpCode` repeats the
status; the status on the wire wins when both are failures (a proxy between us and Cloudflare
that turned a 429 into a 502 has the later word, and a wrapped 5xx is retried either way), and
`httpCode` stands in for it only when the wire says 2xx but the body failed, where it is the only
failure status there is.

A numeric code decides first, whatever the status (a 200 can carry 4006); moderation wording turns
what would be invalid input (or a failed 200) into a refusal; spend-limit wording turns a 429 into
a quota (a spend limit lifts when its window resets, never by retrying); otherwise the status
decides:

    code or status                      class            raised           retried
    3036, 4006                          quota            QuotaExceeded    no, pause the batch
    2009                                auth (*)         AuthError        no, pause the batch
    3023                                auth             AuthError        no, pause the batch
    3040                                rate_limited     RateLimited      yes, brief cool-down
    3007, 3008                          timeout          ProviderTimeout  yes
    5006 3003 5004 5007 3042 3006       invalid_input    InvalidInput     no
    moderation wording                  content_policy   ContentPolicy    no
    429 with spend-limit/budget wording quota            QuotaExceeded    no, pause the batch
    429                                 rate_limited     RateLimited      yes, fleet-wide back-off
    402                                 quota            QuotaExceeded    no
    408                                 timeout          ProviderTimeout  yes
    401, 403                            auth             AuthError        no
    other 4xx (400, 404, 413, ...)      invalid_input    InvalidInput     no
    5xx, failed or malformed 2xx, 3xx   server_error     ServerError      yes

(*) AI Gateway answers an over-rate call with 2009 too. This module cannot tell the two apart; it
raises AuthError carrying `provider_code` 2009, and `worker.gateway_health` decides with the
fleet's record of the gateway: a 2009 while calls recently succeeded is a rate limit.

`Retry-After` (seconds or an HTTP-date) rides on whatever is raised, so the caller can honour it.
"""

import email.utils
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobs.errors import (
    AuthError,
    ContentPolicy,
    InvalidInput,
    JobError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    ServerError,
)
from jobs.gateway_headers import LOG_ID_HEADER, REQUEST_ID_HEADER
from jobs.models import ModelAdapter
from worker.images import decode_inline_image

#: the longest error message recorded on a job; enough for any provider message
MAX_MESSAGE_CHARS = 500
#: how much of an unreadable body a message quotes
_SNIPPET_CHARS = 200
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/jpg", "image/webp"})

#: numeric provider codes, in precedence order: a final verdict outranks a transient one
_BY_CODE: dict[int, type[JobError]] = {
    code: error
    for codes, error in (
        ((3036, 4006), QuotaExceeded),
        ((2009, 3023), AuthError),  # 2009: see worker.gateway_health
        ((3040,), RateLimited),
        ((3007, 3008), ProviderTimeout),
        ((5006, 3003, 5004, 5007, 3042, 3006), InvalidInput),
    )
    for code in codes
}
_BY_STATUS: dict[int, type[JobError]] = {
    429: RateLimited,
    402: QuotaExceeded,
    408: ProviderTimeout,
    401: AuthError,
    403: AuthError,
}
#: "4006: you have used up your daily free allocation" carries its code in the message
_LEADING_CODE = re.compile(r"^\s*(\d{4,5})\s*:")
#: what a spend limit's 429 says (Cloudflare documents the 429, not its wording): a budget that
#: lifts when its window resets, so retrying only burns attempts
_SPEND_LIMIT = re.compile(r"spend[\s_-]*limit|budget", re.IGNORECASE)
_MODERATION = re.compile(
    r"moderat|flagged|sensitive|content[\s_-]*policy|safety|nsfw|unsafe|inappropriate",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ProviderImage:
    """One image an answer holds: a URL to fetch, or the image bytes themselves."""

    url: str | None = None
    data: bytes | None = None

    def __post_init__(self) -> None:
        if (self.url is None) == (self.data is None):
            raise ValueError("a ProviderImage holds exactly one of url and data")


@dataclass(frozen=True)
class Generation:
    """What a successful call returned: its images (each one billed), and AI Gateway's ids for
    the call, which tie it to the gateway's logs and spend analytics."""

    images: tuple[ProviderImage, ...]
    #: `cf-aig-log-id` and `cf-aig-request-id`, when the gateway sent them
    log_id: str | None = None
    request_id: str | None = None

    def __post_init__(self) -> None:
        if not self.images:
            raise ValueError("a Generation holds at least one image")


@dataclass(frozen=True)
class _Problem:
    """One error the provider reported: its code (number or name) and its message."""

    code: int | str | None
    message: str


def parse_response(
    status: int,
    content_type: str,
    body: bytes,
    headers: Mapping[str, str],
    model: ModelAdapter,
) -> Generation:
    """The images a Cloudflare answer carries (read as `model` answers), or raise the JobError
    the contract's table gives."""
    retry_after = parse_retry_after(_header(headers, "retry-after"))
    succeeded = 200 <= status < 300
    ids = {
        "log_id": _header(headers, LOG_ID_HEADER),
        "request_id": _header(headers, REQUEST_ID_HEADER),
    }
    if succeeded and content_type.split(";", 1)[0].strip().lower() in _IMAGE_TYPES and body:
        return Generation((ProviderImage(data=body),), **ids)
    doc = _json_object(body)
    problems = _problems(doc) if doc is not None else []
    if succeeded and (doc is None or not _says_failed(doc)):
        images = _images(doc, model) if doc is not None else ()
        if images:
            return Generation(images, **ids)
        if not problems:
            message = f"HTTP {status}: malformed response: {_snippet(body)}"
            raise ServerError(message, retry_after=retry_after)
    raise _failure(status, doc, problems, body, retry_after)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: seconds or an HTTP-date (past dates give 0).

    None when the header is absent or unreadable, so the caller falls back to its own backoff.
    """
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, whatever its case (a plain dict is not case-insensitive like httpx's)."""
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(body)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def _says_failed(doc: dict[str, Any]) -> bool:
    return (
        doc.get("success") is False
        or str(doc.get("state", "")).lower() == "failed"
        or doc.get("name") == "AiGatewayError"
    )


def _images(doc: dict[str, Any], model: ModelAdapter) -> tuple[ProviderImage, ...]:
    """Every image in `result` (or, from looser proxies, at the top level), in order."""
    for holder in (doc.get("result"), doc):
        if isinstance(holder, dict) and (found := model.answer_images(holder)):
            return tuple(_image(value) for value in found)
    return ()


def _image(value: str) -> ProviderImage:
    """A URL to fetch, or an inline image (base64 or a data URI) decoded."""
    if value.lower().startswith(("http://", "https://")):
        return ProviderImage(url=value)
    return ProviderImage(data=decode_inline_image(value))


def _problems(doc: dict[str, Any]) -> list[_Problem]:
    """Every error the body reports, from whichever of the four shapes it uses (`errors` and
    `error` each a list, one object or a string); a code the body repeats with no message of its
    own (AiGatewayError's `internalCode` beside `error: [{"code": 2009, ...}]`) is read once."""
    entries = [*_entries(doc.get("errors")), *_entries(doc.get("error"))]
    if "internalCode" in doc or "message" in doc:
        entries.append(doc)
    problems: list[_Problem] = []
    for entry in entries:
        if isinstance(entry, str) and entry.strip():
            problems.append(_Problem(None, entry))
        elif isinstance(entry, dict):
            code = entry.get("code", entry.get("internalCode"))
            message = str(entry.get("message") or "")
            repeated = not message and any(str(p.code) == str(code) for p in problems)
            if (code is not None or message) and not repeated:
                problems.append(_Problem(code, message))
    return problems


def _entries(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else [value]


def _numeric_codes(problems: list[_Problem]) -> set[int]:
    codes = set()
    for problem in problems:
        if isinstance(problem.code, int) and not isinstance(problem.code, bool):
            codes.add(problem.code)
        elif isinstance(problem.code, str) and problem.code.strip().isdigit():
            codes.add(int(problem.code))
        leading = _LEADING_CODE.match(problem.message)
        if leading:
            codes.add(int(leading[1]))
    return codes


def _failure(
    status: int,
    doc: dict[str, Any] | None,
    problems: list[_Problem],
    body: bytes,
    retry_after: float | None,
) -> JobError:
    """The JobError for a failed answer, carrying the provider's deciding code."""
    status = _failure_status(status, doc)
    error, code = _classify(status, problems)
    return error(_describe(status, problems, body), retry_after=retry_after, provider_code=code)


def _failure_status(status: int, doc: dict[str, Any] | None) -> int:
    """The status a failure is judged by: the wire's, unless it says 2xx and the body's
    `httpCode` names a failure (see the module's docstring for why the wire wins otherwise)."""
    reported = doc.get("httpCode") if doc is not None else None
    if 200 <= status < 300 and isinstance(reported, int) and 400 <= reported < 600:
        return reported
    return status


def _classify(status: int, problems: list[_Problem]) -> tuple[type[JobError], int | None]:
    """The class the table gives, and the code that decided it (or the first code there is)."""
    codes = _numeric_codes(problems)
    deciding = next((code for code in _BY_CODE if code in codes), None)
    code = deciding if deciding is not None else min(codes, default=None)
    by_code = _BY_CODE.get(deciding) if deciding is not None else None
    if by_code is not None and by_code is not InvalidInput:
        return by_code, code
    if by_code is None:
        by_code = _BY_STATUS.get(status) or (InvalidInput if 400 <= status < 500 else ServerError)
    if by_code is RateLimited and any(_SPEND_LIMIT.search(p.message) for p in problems):
        return QuotaExceeded, code
    refusable = by_code is InvalidInput or 200 <= status < 300
    if refusable and any(_MODERATION.search(problem.message) for problem in problems):
        return ContentPolicy, code
    return by_code, code


def _describe(status: int, problems: list[_Problem], body: bytes) -> str:
    """`HTTP 429 code 3040: Capacity temporarily exceeded`: status, codes and messages, clipped."""
    if not problems:
        return _clip(f"HTTP {status}: {_snippet(body)}", MAX_MESSAGE_CHARS)
    parts = [
        f"code {problem.code}: {problem.message}" if problem.code is not None else problem.message
        for problem in problems
    ]
    separator = " " if problems[0].code is not None else ": "
    return _clip(f"HTTP {status}{separator}{'; '.join(parts)}", MAX_MESSAGE_CHARS)


def _snippet(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    return _clip(text, _SNIPPET_CHARS) if text.strip() else "(empty body)"


def _clip(text: str, limit: int) -> str:
    """One line of at most `limit` characters, so a proxy's HTML page cannot flood the table."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
