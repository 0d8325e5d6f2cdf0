"""Reading an HTTP body from a stranger: unencoded, and never more than a cap.

httpx decodes `Content-Encoding` before the caller sees a byte, a whole chunk at a time: a 5 KB
body sent as `gzip, gzip` over 3 GiB of zeros became 3 GiB in one call, past any size check. So
the worker asks for `Accept-Encoding: identity`, refuses a body that is encoded anyway (before httpx
decodes a byte of it), and counts the bytes as they arrive: with no encoding, what is counted is
what arrived and what is kept.
"""

from collections.abc import Iterator

import httpx

#: the request header that asks for the body as is, never compressed
IDENTITY = {"Accept-Encoding": "identity"}
_UNENCODED = frozenset({"", "identity"})


class UnreadableBody(Exception):
    """The body is encoded, or longer than the cap; the message completes "the body ..."."""


def bounded_chunks(response: httpx.Response, max_bytes: int) -> Iterator[bytes]:
    """The body of a streamed response in chunks, UnreadableBody as soon as it is known to be
    encoded or to exceed `max_bytes`."""
    encoding = response.headers.get("content-encoding", "").strip().lower()
    if encoding not in _UNENCODED:
        raise UnreadableBody(
            f"is sent with Content-Encoding {encoding[:40]!r} though none was asked for"
        )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise UnreadableBody(f"is over {max_bytes} bytes (Content-Length {declared})")
    received = 0
    for chunk in response.iter_bytes():  # no encoding: the raw bytes
        received += len(chunk)
        if received > max_bytes:
            raise UnreadableBody(f"is over {max_bytes} bytes")
        yield chunk


def read_bounded(response: httpx.Response, max_bytes: int) -> bytes:
    """The whole body of a streamed response, within the limits of `bounded_chunks`."""
    return b"".join(bounded_chunks(response, max_bytes))
