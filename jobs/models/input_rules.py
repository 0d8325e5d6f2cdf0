"""The input rules every model shares: a prompt, an input image as a URL or a data URI, the
aspect ratios, the upstream limits on input images. Each model's input (jobs.models.*) is built
from these, so a rule is written once whatever model it serves.
"""

import base64
import binascii
import io
import re
import warnings
from enum import StrEnum

from PIL import Image

from jobs.quoting import quoted

#: upstream refuses larger input images; checking early saves a paid-for failure
MAX_INPUT_IMAGE_BYTES = 10 * 1024 * 1024
#: upstream accepts input images between 1:3 and 3:1
MAX_INPUT_ASPECT = 3.0
#: The longest prompt accepted. Neither Cloudflare nor ByteDance documents a limit, so this is our
#: own bound, not the provider's: 10,000 characters is far beyond any useful prompt (Seedream's
#: examples run to a few hundred) and small enough that a runaway value (a whole file pasted into
#: one cell) is refused at validation instead of being stored, sent and paid for.
MAX_PROMPT_CHARS = 10_000

#: an input image given inline (a data URI) is exported as this, never as its payload
INLINE_IMAGE = "inline"

#: applied with fullmatch, like every pattern that validates (`$` lets a trailing newline through)
_DATA_URI = re.compile(r"data:image/(?P<subtype>jpeg|jpg|png);base64,(?P<payload>.*)", re.DOTALL)
#: magic number -> the media type of a data URI carrying it
INPUT_IMAGE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png"}
#: C0 controls and DEL, but tab, line feed and carriage return (fine in a prompt). A NUL cannot be
#: stored in PostgreSQL text at all; the others are never meant (a terminal escape, a stray \x08)
#: and would reach the provider, the results table and every log line that quotes the prompt.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
#: what an http(s) URL must not hold: whitespace and every control character
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f]")


class AspectRatio(StrEnum):
    """Output aspect ratio, used when the size is not `custom`."""

    match_input_image = "match_input_image"
    square = "1:1"
    landscape_4_3 = "4:3"
    portrait_3_4 = "3:4"
    widescreen_16_9 = "16:9"
    tall_9_16 = "9:16"
    landscape_3_2 = "3:2"
    portrait_2_3 = "2:3"
    cinema_21_9 = "21:9"


def check_prompt(prompt: str) -> str:
    """A prompt with words, within MAX_PROMPT_CHARS and free of control characters; ValueError
    saying what is wrong otherwise (pydantic reports it on the field)."""
    if not prompt.strip():
        raise ValueError("must not be blank")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ValueError(f"is {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are allowed")
    if control := _CONTROL.search(prompt):
        raise ValueError(
            f"contains the control character {_codepoint(control[0])} at character "
            f"{control.start() + 1}; tabs and line breaks are allowed, other control "
            "characters are not"
        )
    return prompt


def check_image_uri(image: str) -> str:
    """An input image given as an http(s) URL or a JPEG/PNG data URI within the upstream limits;
    ValueError saying what is wrong otherwise."""
    if image.startswith(("http://", "https://")):
        if bad := _URL_FORBIDDEN.search(image):
            raise ValueError(
                f"URL contains {_codepoint(bad[0])} at character {bad.start() + 1}; a URL "
                "has no spaces or control characters (write a space as %20)"
            )
        return image
    if image.startswith("data:"):
        decode_input_image(image)
        return image
    raise ValueError(
        f"must be an http(s) URL or a data:image/jpeg|png;base64 URI, got {quoted(image)}"
    )


def exported_image(image: str | None) -> str | None:
    """An input image as an export shows it: its URL, or INLINE_IMAGE for a data URI."""
    if image is None or image.startswith(("http://", "https://")):
        return image
    return INLINE_IMAGE


def decode_input_image(data_uri: str) -> Image.Image:
    """Check a data-URI input image against the upstream limits and open it (header only).

    Raises ValueError with what is wrong, so pydantic reports it on the `image` field.
    """
    match = _DATA_URI.fullmatch(data_uri)
    if match is None:
        raise ValueError(
            "a data URI must be data:image/jpeg;base64,... or data:image/png;base64,..."
        )
    payload = match["payload"]
    if len(payload) * 3 // 4 > MAX_INPUT_IMAGE_BYTES:
        raise ValueError(f"input image is over {MAX_INPUT_IMAGE_BYTES // (1024 * 1024)} MB")
    try:
        raw = base64.b64decode(payload, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"input image is not valid base64: {exc}") from None
    return open_input_image(raw)


def open_input_image(raw: bytes) -> Image.Image:
    """Check an input image's bytes against the upstream limits (JPEG or PNG, aspect 1:3..3:1)
    and open it (header only); ValueError saying what is wrong otherwise.

    The size limit is the caller's to check before reading the bytes (MAX_INPUT_IMAGE_BYTES).
    """
    if input_image_type(raw) is None:
        raise ValueError("input image must be JPEG or PNG")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between MAX_IMAGE_PIXELS and twice that: refuse those too
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(raw))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(
            f"input image declares more than {Image.MAX_IMAGE_PIXELS} pixels, so it was not "
            "opened (a few bytes can declare gigapixels): send a smaller image"
        ) from None
    except OSError:
        raise ValueError("input image could not be read as JPEG or PNG") from None
    width, height = picture.size
    if max(width, height) > MAX_INPUT_ASPECT * min(width, height):
        raise ValueError(f"input image aspect ratio {width}x{height} is outside 1:3..3:1")
    return picture


def input_image_type(raw: bytes) -> str | None:
    """`image/jpeg` or `image/png` by the bytes' magic number; None for anything else."""
    return next((kind for magic, kind in INPUT_IMAGE_TYPES.items() if raw.startswith(magic)), None)


def _codepoint(char: str) -> str:
    """`U+001B`: how a message names a character that cannot be shown."""
    return f"U+{ord(char):04X}"
