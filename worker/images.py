"""What the provider's bytes are, checked before anything is stored.

A signed link that expired, a proxy's error page or a truncated download all arrive as bytes; the
magic number says whether they are an image at all, and Pillow confirms the file is whole and
gives its size. The image is read from its spool (worker.spool) in pieces, never loaded whole.
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
from worker.spool import ImageFile


@dataclass(frozen=True)
class _Format:
    name: str
    content_type: str
    extension: str
    #: whether the file reaches its end marker, from its head, its tail and its size: Pillow's
    #: verify() reads headers, not the pixels, so a download cut short in the pixel data would
    #: otherwise pass
    complete: Callable[[bytes, bytes, int], bool]


def _jpeg_complete(_head: bytes, tail: bytes, _size: int) -> bool:
    return tail.rstrip(b"\0").endswith(b"\xff\xd9")


def _png_complete(_head: bytes, tail: bytes, _size: int) -> bool:
    return tail.endswith(b"IEND\xaeB`\x82")


def _riff_complete(head: bytes, _tail: bytes, size: int) -> bool:
    return size >= 8 + int.from_bytes(head[4:8], "little")


_JPEG = _Format("jpeg", "image/jpeg", "jpg", _jpeg_complete)
_PNG = _Format("png", "image/png", "png", _png_complete)
_WEBP = _Format("webp", "image/webp", "webp", _riff_complete)

#: the Content-Type of a stored image, by its extension (a reused image is copied, not read)
CONTENT_TYPES = {fmt.extension: fmt.content_type for fmt in (_JPEG, _PNG, _WEBP)}
#: how much of the start of a file is read to tell its format (and quoted when it is refused)
_HEAD_BYTES = 16
#: how much of the end is read for the end marker: room for the zero padding some JPEG encoders
#: write after it; a file padded with more than this is refused as damaged
_TAIL_BYTES = 64 * 1024
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


def inspect_image(file: ImageFile) -> ImageFacts:
    """Check that `file` holds a whole JPEG, PNG or WebP image and describe it; BadImage otherwise.

    Reads the file in pieces (its head, its tail, what Pillow needs for the headers, then chunks
    for the hash), never whole, so a large spooled image stays on disk.
    """
    size = file.seek(0, io.SEEK_END)
    file.seek(0)
    head = file.read(_HEAD_BYTES)
    fmt = _sniff(head)
    if fmt is None:
        raise BadImage(f"not a JPEG, PNG or WebP image: {_describe_start(head)}")
    damaged = f"{fmt.name} image is damaged or truncated ({size} bytes)"
    file.seek(max(0, size - _TAIL_BYTES))
    if not fmt.complete(head, file.read(), size):
        raise BadImage(f"{damaged}: it does not reach its end marker")
    file.seek(0)
    try:
        with Image.open(file) as picture:
            width, height = picture.size
            picture.verify()
    except (OSError, SyntaxError, ValueError, struct.error, Image.DecompressionBombError) as exc:
        raise BadImage(f"{damaged}: {exc}") from None
    file.seek(0)
    # a spool reads into a buffer like any binary file; typing.IO just does not declare readinto
    sha256 = hashlib.file_digest(file, "sha256").hexdigest()  # type: ignore[arg-type]
    return ImageFacts(
        format=fmt.name,
        content_type=fmt.content_type,
        extension=fmt.extension,
        width=width,
        height=height,
        sha256=sha256,
        size=size,
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


def _sniff(head: bytes) -> _Format | None:
    if head.startswith(b"\xff\xd8\xff"):
        return _JPEG
    if head.startswith(b"\x89PNG"):
        return _PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return _WEBP
    return None


def _describe_start(head: bytes) -> str:
    """The first bytes, as text when they are text (an HTML or JSON error page), else as hex."""
    if not head:
        return "the file is empty"
    if all(32 <= byte < 127 or byte in b"\t\r\n" for byte in head):
        return f"starts with {' '.join(head.decode('ascii').split())!r}"
    return f"starts with bytes {head.hex(' ')}"
