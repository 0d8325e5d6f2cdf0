"""Download a generated image from the provider's signed URL, bounded in size, time and redirects.

The URL comes from a third party's answer, so nothing about it is trusted: only http(s), a few
redirects at most (each one checked again), an address the worker's policy allows on every hop
(worker.address_policy, enforced at connect time by the guarded client of worker.guarded_network),
one deadline for the whole download, an unencoded body and never more than `max_bytes` written
(worker.bounded_body). The body is streamed into the caller's spool (worker.spool) chunk by chunk,
never held whole. Whether the bytes are an image is decided afterwards by
`worker.images.inspect_image`.
"""

from urllib.parse import urlsplit

import httpx

from jobs.errors import BadImage, JobError, ProviderTimeout, ServerError
from jobs.redaction import describe_error
from worker.address_policy import RefusedAddress
from worker.bounded_body import IDENTITY, UnreadableBody, bounded_chunks
from worker.guarded_network import deadline
from worker.spool import ImageFile

#: statuses from the image host that a later attempt may get past: retried, not recorded as final
_TRANSIENT_STATUSES = frozenset({408, 429})


def fetch_image(
    http: httpx.Client,
    url: str,
    into: ImageFile,
    *,
    max_bytes: int,
    timeout: float,
    max_redirects: int = 3,
) -> int:
    """Write the body at `url` into `into` and return its length, or raise a JobError saying why
    not (`into` then holds part of a body, to be discarded).

    `timeout` bounds each network wait and, through a guarded client, the whole download, so a
    host that drips bytes cannot hold a worker. 5xx and network failures are transient; a 4xx
    other than 408/429 is final (a signed link that expired will not come back), and so is an
    address the policy refuses.
    """
    with deadline(timeout, f"image download took over {timeout:g} s"):
        return _follow(
            http, url, into, max_bytes=max_bytes, timeout=timeout, max_redirects=max_redirects
        )


def _follow(
    http: httpx.Client,
    url: str,
    into: ImageFile,
    *,
    max_bytes: int,
    timeout: float,
    max_redirects: int,
) -> int:
    """`fetch_image` inside its deadline: each hop checked, then the body copied."""
    for _ in range(max_redirects + 1):
        _check_url(url)
        try:
            with http.stream(
                "GET", url, headers=IDENTITY, timeout=httpx.Timeout(timeout), follow_redirects=False
            ) as response:
                if response.is_redirect:
                    url = str(response.url.join(response.headers["location"]))
                    continue
                _check_status(response)
                return _copy_bounded(response, into, max_bytes)
        except httpx.InvalidURL as exc:
            raise BadImage(f"image URL redirected to an invalid URL: {exc}") from None
        except RefusedAddress as refused:
            raise BadImage(
                f"image URL refused: {refused} (set SEEDREAM_FETCH_ALLOW_PRIVATE=true if images "
                "are meant to come from there)"
            ) from None
        except httpx.TransportError as exc:
            raise ProviderTimeout(
                f"image download from {_where(url)} failed: {describe_error(exc)}"
            ) from None
    raise BadImage(f"image URL redirected more than {max_redirects} times (last: {_where(url)})")


def _check_url(url: str) -> None:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise BadImage(f"image URL is not a valid URL ({exc}): {url[:60]!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadImage(f"image URL must be an http(s) URL with a host, got {url[:60]!r}")


def _check_status(response: httpx.Response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    where = _where(str(response.url))
    error: type[JobError]
    if 400 <= status < 500 and status not in _TRANSIENT_STATUSES:
        error, hint = BadImage, ": the signed link may have expired (links last 24 h)"
    else:
        error, hint = ServerError, ""
    raise error(f"image URL {where} answered HTTP {status}{hint}")


def _copy_bounded(response: httpx.Response, into: ImageFile, max_bytes: int) -> int:
    """Copy the raw body, refused as soon as it is known to be encoded or over `max_bytes`."""
    received = 0
    try:
        for chunk in bounded_chunks(response, max_bytes):
            into.write(chunk)
            received += len(chunk)
    except UnreadableBody as exc:
        raise BadImage(f"image {exc}") from None
    return received


def _where(url: str) -> str:
    """Host and path only: the query of a signed URL is a credential, kept out of messages."""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"[:120]
