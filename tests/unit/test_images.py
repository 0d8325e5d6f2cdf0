"""worker.images: only whole JPEG, PNG and WebP files pass; a refusal says what the bytes were."""

import base64
import hashlib

import pytest

from jobs.errors import BadImage
from tests.support.images import image_bytes
from worker.images import decode_inline_image, inspect_image


@pytest.mark.parametrize(
    ("pillow_format", "name", "content_type", "extension"),
    [
        ("JPEG", "jpeg", "image/jpeg", "jpg"),
        ("PNG", "png", "image/png", "png"),
        ("WEBP", "webp", "image/webp", "webp"),
    ],
)
def test_a_whole_image_is_described(
    pillow_format: str, name: str, content_type: str, extension: str
) -> None:
    data = image_bytes(pillow_format, (40, 30))

    facts = inspect_image(data)

    assert (facts.format, facts.content_type, facts.extension) == (name, content_type, extension)
    assert (facts.width, facts.height) == (40, 30)
    assert facts.size == len(data)
    assert facts.sha256 == hashlib.sha256(data).hexdigest()


def test_an_html_error_page_is_refused_and_quoted() -> None:
    with pytest.raises(BadImage, match=r"starts with '<html> <head><ti"):
        inspect_image(b"<html>\n<head><title>403 Forbidden</title></head></html>")


def test_binary_that_is_no_image_is_refused_and_shown_in_hex() -> None:
    with pytest.raises(BadImage, match=r"starts with bytes 00 01 02 ff"):
        inspect_image(b"\x00\x01\x02\xff" * 8)


def test_an_empty_body_is_refused() -> None:
    with pytest.raises(BadImage, match="empty"):
        inspect_image(b"")


def test_a_gif_is_not_accepted() -> None:
    with pytest.raises(BadImage, match="not a JPEG, PNG or WebP image"):
        inspect_image(image_bytes("GIF"))


@pytest.mark.parametrize("pillow_format", ["JPEG", "PNG", "WEBP"])
@pytest.mark.parametrize("kept", [0.5, 0.97])
def test_a_download_cut_short_is_refused(pillow_format: str, kept: float) -> None:
    data = image_bytes(pillow_format, (200, 150))

    with pytest.raises(BadImage, match="damaged or truncated"):
        inspect_image(data[: int(len(data) * kept)])


def test_right_magic_and_end_marker_around_garbage_is_refused() -> None:
    png_end = image_bytes("PNG")[-12:]

    with pytest.raises(BadImage, match="png image is damaged"):
        inspect_image(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10 + png_end)


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
