"""worker.images: only whole JPEG, PNG and WebP files pass; a refusal says what the bytes were.

Images are inspected from their spool, in memory or in a temp file, never read whole.
"""

import base64
import hashlib
import io
import os

import pytest
from PIL import Image

from jobs.errors import BadImage
from tests.support.images import image_bytes, spooled
from worker.images import ImageFacts, decode_inline_image, inspect_image

#: spool thresholds: everything in memory, everything in a temp file
IN_MEMORY, ON_DISK = 1024 * 1024, 1


def inspect(data: bytes, memory_bytes: int = IN_MEMORY) -> ImageFacts:
    with spooled(data, memory_bytes) as file:
        return inspect_image(file)


@pytest.mark.parametrize("memory_bytes", [IN_MEMORY, ON_DISK])
@pytest.mark.parametrize(
    ("pillow_format", "name", "content_type", "extension"),
    [
        ("JPEG", "jpeg", "image/jpeg", "jpg"),
        ("PNG", "png", "image/png", "png"),
        ("WEBP", "webp", "image/webp", "webp"),
    ],
)
def test_a_whole_image_is_described(
    pillow_format: str, name: str, content_type: str, extension: str, memory_bytes: int
) -> None:
    data = image_bytes(pillow_format, (40, 30))

    facts = inspect(data, memory_bytes)

    assert (facts.format, facts.content_type, facts.extension) == (name, content_type, extension)
    assert (facts.width, facts.height) == (40, 30)
    assert facts.size == len(data)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()


class ReadRecorder(io.BytesIO):
    """A file that remembers how many bytes each read returned."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads: list[int] = []

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self.reads.append(len(chunk))
        return chunk


def test_a_large_image_is_read_in_pieces_never_whole() -> None:
    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))
    buffer = io.BytesIO()
    noise.save(buffer, "JPEG", quality=95)
    file = ReadRecorder(buffer.getvalue())

    facts = inspect_image(file)

    assert facts.size == len(buffer.getvalue()) > 300_000
    assert max(file.reads) <= 64 * 1024


def test_zero_padding_after_the_jpeg_end_marker_is_accepted() -> None:
    data = image_bytes("JPEG", (40, 30)) + b"\0" * 100

    assert inspect(data, ON_DISK).size == len(data)


def test_an_html_error_page_is_refused_and_quoted() -> None:
    with pytest.raises(BadImage, match=r"starts with '<html> <head><ti"):
        inspect(b"<html>\n<head><title>403 Forbidden</title></head></html>")


def test_binary_that_is_no_image_is_refused_and_shown_in_hex() -> None:
    with pytest.raises(BadImage, match=r"starts with bytes 00 01 02 ff"):
        inspect(b"\x00\x01\x02\xff" * 8)


def test_an_empty_body_is_refused() -> None:
    with pytest.raises(BadImage, match="empty"):
        inspect(b"")


def test_a_gif_is_not_accepted() -> None:
    with pytest.raises(BadImage, match="not a JPEG, PNG or WebP image"):
        inspect(image_bytes("GIF"))


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("kept", [0.5, 0.97])
def test_a_download_cut_short_is_refused(pillow_format: str, kept: float) -> None:
    data = image_bytes(pillow_format, (200, 150))

    with pytest.raises(BadImage, match="damaged or truncated"):
        inspect(data[: int(len(data) * kept)])


def test_right_magic_and_end_marker_around_garbage_is_refused() -> None:
    png_end = image_bytes("PNG")[-12:]

    with pytest.raises(BadImage, match="png image is damaged"):
        inspect(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10 + png_end)


def test_bare_base64_is_decoded() -> None:
    data = image_bytes("PNG")

    assert decode_inline_image(base64.b64encode(data).decode()) == data


def test_a_data_uri_is_decoded() -> None:
    data = image_bytes("JPEG")

    assert decode_inline_image("data:image/jpeg;base64," + base64.b64encode(data).decode()) == data


def test_base64_wrapped_over_lines_and_without_padding_is_decoded() -> None:
    data = b"\x89PNG\r\n\x1a\n-"
    encoded = base64.b64encode(data).decode().rstrip("=")

    assert decode_inline_image(encoded[:6] + "\n" + encoded[6:]) == data


@pytest.mark.parametrize(
    "value",
    ["not base64 at all!", "data:image/png,rawtext", "data:image/png;base64,@@@@", "", "data:"],
)
def test_what_is_not_base64_is_a_bad_image(value: str) -> None:
    with pytest.raises(BadImage):
        decode_inline_image(value)
