"""What the provider's bytes are, checked before anything is stored.

A signed link that expired, a proxy's error page or a truncated download all arrive as bytes; the
magic number says whether they are an image at all, and Pillow confirms the file is whole and
gives its size. Nothing here does I/O.
"""

import base64
import binascii
import hashlib
import io
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from jobs.errors import BadImage


@dataclass(frozen=True)
class _Format:
    name: str
    content_type: str
    extension: str
    #: whether the file reaches its end marker: Pillow's verify() reads headers, not the pixels,
    #: so a download cut short in the pixel data would otherwise pass
    complete: Callable[[bytes], bool]


def _riff_complete(data: bytes) -> bool:
    return len(data) >= 8 + int.from_bytes(data[4:8], "little")


_JPEG = _Format("jpeg", "image/jpeg", "jpg", lambda data: data.rstrip(b"\0").endswith(b"\xff\xd9"))
_PNG = _Format("png", "image/png", "png", lambda data: data.endswith(b"IEND\xaeB`\x82"))
_WEBP = _Format("webp", "image/webp", "webp", _riff_complete)

#: how much of the start of a refused file the error message quotes
_QUOTED_BYTES = 16
_DATA_URI = re.compile(r"^data:(?P<media>[^,;]*)(?P<params>(;[^,;]*)*),(?P<payload>.*)$", re.DOTALL)


@dataclass(frozen=True)
class ImageFacts:
    """A checked image: how to name and serve it, its pixel size and its content hash."""

    format: str
    content_type: str
    extension: str
    width: int
    height: int
    #: hex SHA-256 of the bytes, for deduplication and to prove what was stored
    sha256: str
    size: int


def inspect_image(data: bytes) -> ImageFacts:
    """Check that `data` is a whole JPEG, PNG or WebP file and describe it; BadImage otherwise."""
    fmt = _sniff(data)
    if fmt is None:
        raise BadImage(f"not a JPEG, PNG or WebP image: {_describe_start(data)}")
    damaged = f"{fmt.name} image is damaged or truncated ({len(data)} bytes)"
    if not fmt.complete(data):
        raise BadImage(f"{damaged}: it does not reach its end marker")
    try:
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
            picture.verify()
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as exc:
        raise BadImage(f"{damaged}: {exc}") from None
    return ImageFacts(
        format=fmt.name,
        content_type=fmt.content_type,
        extension=fmt.extension,
        width=width,
        height=height,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
    )


def decode_inline_image(value: str) -> bytes:
    """The bytes of an image sent inline, as bare base64 or a `data:...;base64,` URI.

    Providers wrap long base64 over lines and some drop the padding, so both are tolerated; what is
    still not base64 is a BadImage. Whether the bytes are an image is `inspect_image`'s job.
    """
    payload = value.strip()
    if payload.startswith("data:"):
        match = _DATA_URI.match(payload)
        if match is None or ";base64" not in match["params"]:
            raise BadImage(f"inline image is not a base64 data URI: {payload[:40]!r}")
        payload = match["payload"]
    payload = "".join(payload.split())
    payload += "=" * (-len(payload) % 4)
    try:
        data = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise BadImage(f"inline image is not valid base64 ({exc}): {value[:40]!r}") from None
    if not data:
        raise BadImage("inline image is empty")
    return data


def _sniff(data: bytes) -> _Format | None:
    if data.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if data.startswith(b"\x89PNG"):
        return _PNG
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _WEBP
    return None


def _describe_start(data: bytes) -> str:
    """The first bytes, as text when they are text (an HTML or JSON error page), else as hex."""
    if not data:
        return "the file is empty"
    head = data[:_QUOTED_BYTES]
    if all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head):
        return f"starts with {' '.join(head.decode('ascii').split())!r}"
    return f"starts with bytes {head.hex(' ')}"
