"""One image job, exactly as the API allows it (docs/cloudflare-api.md).

`ImageInput` is the `input` object of a Cloudflare call. The producer validates manifest rows with
it, the worker sends it, and the emulator validates requests with it: the rules live here once.
"""

import base64
import binascii
import io
import json
import re
import warnings
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from jobs.keys import validate_key
from jobs.quoting import quoted

#: the model the product is built for; the settings may name another of the same contract
DEFAULT_MODEL = "bytedance/seedream-4.0"

MIN_SIDE = 1024
MAX_SIDE = 4096
#: upstream refuses larger input images; checking early saves a paid-for failure
MAX_INPUT_IMAGE_BYTES = 10 * 1024 * 1024
#: upstream accepts input images between 1:3 and 3:1
MAX_INPUT_ASPECT = 3.0
#: The longest prompt accepted. Neither Cloudflare nor ByteDance documents a limit, so this is our
#: own bound, not the provider's: 10,000 characters is far beyond any useful prompt (Seedream's
#: examples run to a few hundred) and small enough that a runaway value (a whole file pasted into
#: one cell) is refused at validation instead of being stored, sent and paid for.
MAX_PROMPT_CHARS = 10_000
#: The most a row's metadata may weigh, as JSON (UTF-8 bytes). Metadata is captions and labels
#: carried to the output; the row limit leaves room for a 10 MB inline image, and without this a
#: row of megabytes of "caption" would be stored in the results table a million times over.
MAX_METADATA_BYTES = 64 * 1024
#: The most values a row's metadata may hold: its columns, and every list item and object member
#: inside them. Captions and labels need tens. Its size as JSON does not bound its memory: 49 KB
#: of `[[], [], ...]` is 16,000 Python lists, 1 MB, and a chunk of such rows took gigabytes.
MAX_METADATA_VALUES = 1000
#: How deep lists and objects may nest in one metadata column (`{"tags": [{"a": 1}]}` is 2 deep):
#: labels and small records need two or three; deeper is a generated structure, not metadata.
MAX_METADATA_DEPTH = 8

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
#: made once: json.dumps with options builds a new encoder on every call (a row costs ~2 us)
_METADATA_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, check_circular=False)


class Size(StrEnum):
    """Output size tier; `custom` takes `width` and `height` instead."""

    one_k = "1K"
    two_k = "2K"
    four_k = "4K"
    custom = "custom"


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


#: Seedream's own recommended 2K sizes; 1K halves them and 4K doubles them (long side capped)
RECOMMENDED_2K_SIZES: dict[AspectRatio, tuple[int, int]] = {
    AspectRatio.square: (2048, 2048),
    AspectRatio.landscape_4_3: (2304, 1728),
    AspectRatio.portrait_3_4: (1728, 2304),
    AspectRatio.widescreen_16_9: (2560, 1440),
    AspectRatio.tall_9_16: (1440, 2560),
    AspectRatio.landscape_3_2: (2496, 1664),
    AspectRatio.portrait_2_3: (1664, 2496),
    AspectRatio.cinema_21_9: (3024, 1296),
}
_TIER_SCALE = {Size.one_k: 0.5, Size.two_k: 1.0, Size.four_k: 2.0}
#: what a call that names no size gets: the contract is silent, 2K is Seedream's own default
DEFAULT_SIZE = Size.two_k


class ImageInput(BaseModel):
    """The `input` of one Seedream call. Fields left out are not sent."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(min_length=1)
    size: Size | None = None
    aspect_ratio: AspectRatio | None = None
    width: int | None = Field(default=None, ge=MIN_SIDE, le=MAX_SIDE)
    height: int | None = Field(default=None, ge=MIN_SIDE, le=MAX_SIDE)
    enhance_prompt: bool | None = None
    image: str | None = None

    @field_validator("prompt")
    @classmethod
    def _prompt_has_words(cls, prompt: str) -> str:
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

    @field_validator("image")
    @classmethod
    def _image_is_uri(cls, image: str) -> str:
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

    @model_validator(mode="after")
    def _fields_agree(self) -> Self:
        custom = self.size is Size.custom
        if custom and (self.width is None or self.height is None):
            raise ValueError("size 'custom' needs both width and height")
        if not custom and (self.width is not None or self.height is not None):
            raise ValueError("width and height are only allowed with size 'custom'")
        if self.aspect_ratio is AspectRatio.match_input_image and self.image is None:
            raise ValueError("aspect_ratio 'match_input_image' needs an image")
        return self

    def payload(self) -> dict[str, Any]:
        """The JSON object sent as `input`: only the fields that were given."""
        return self.model_dump(mode="json", exclude_none=True)


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


def output_dimensions(
    spec: ImageInput, input_size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The width and height an image generated for `spec` has.

    `custom` is exact. A tier scales Seedream's recommended 2K size for the aspect ratio, with the
    long side capped at MAX_SIDE. `match_input_image` keeps the input's ratio at the tier's area;
    `input_size` is the input image's size when known (a data URI), else the result is square.
    """
    if spec.size is Size.custom:
        assert spec.width is not None
        assert spec.height is not None
        return spec.width, spec.height
    scale = _TIER_SCALE[spec.size or DEFAULT_SIZE]
    ratio = spec.aspect_ratio or (
        AspectRatio.match_input_image if spec.image else AspectRatio.square
    )
    if ratio is AspectRatio.match_input_image:
        base_w, base_h = _match_ratio(input_size or (1, 1))
    else:
        base_w, base_h = RECOMMENDED_2K_SIZES[ratio]
    width, height = base_w * scale, base_h * scale
    shrink = min(1.0, MAX_SIDE / max(width, height))
    return round(width * shrink), round(height * shrink)


def _match_ratio(input_size: tuple[int, int]) -> tuple[float, float]:
    """A 2K-tier size (area 2048²) with the input image's aspect ratio."""
    in_w, in_h = input_size
    area = RECOMMENDED_2K_SIZES[AspectRatio.square][0] ** 2
    height = (area * in_h / in_w) ** 0.5
    return height * in_w / in_h, height


class JobSpec(BaseModel):
    """One manifest row made valid: its key in the batch, the call to make, the row's metadata."""

    model_config = ConfigDict(frozen=True)

    key: str
    line: int
    input: ImageInput
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("key")
    @classmethod
    def _key_is_safe(cls, key: str) -> str:
        return validate_key(key)

    @field_validator("metadata")
    @classmethod
    def _metadata_is_storable(cls, metadata: dict[str, Any]) -> dict[str, Any]:
        """Metadata goes to the results table as JSON: bounded, and free of NUL (PostgreSQL text
        cannot hold one; JSON would carry it only as a \\u0000 escape PostgreSQL refuses too)."""
        if not metadata:
            return metadata
        shape = metadata_shape(metadata)
        if shape.values > MAX_METADATA_VALUES:
            raise ValueError(
                f"holds more than {MAX_METADATA_VALUES} values, the most allowed (its columns "
                f"and every list item and object member in them; {quoted(shape.largest)} holds the "
                "most)"
            )
        if shape.depth > MAX_METADATA_DEPTH:
            raise ValueError(
                f"{quoted(shape.deepest)} nests lists and objects {shape.depth} levels deep; "
                f"at most {MAX_METADATA_DEPTH} are allowed"
            )
        try:
            text = _METADATA_JSON.encode(metadata)
        except (TypeError, ValueError, RecursionError) as exc:
            raise ValueError(f"is not JSON: {exc}") from None
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > MAX_METADATA_BYTES:
            raise ValueError(
                f"is {size} bytes as JSON (every column that is not a job field); at most "
                f"{MAX_METADATA_BYTES} are allowed"
            )
        if "\\u0000" in text and (where := _nul_in(metadata)) is not None:
            raise ValueError(f"{where} contains a NUL character (U+0000); text cannot hold it")
        return metadata


@dataclass(frozen=True)
class MetadataShape:
    """What a row's metadata holds, as far as memory goes (see MAX_METADATA_VALUES)."""

    #: columns, list items and object members, counted up to one past MAX_METADATA_VALUES
    values: int
    #: the characters of every string in it, names included
    chars: int
    #: the deepest nesting of lists and objects, and the column that has it
    depth: int
    deepest: str
    #: the column holding the most values
    largest: str


def metadata_shape(metadata: dict[str, Any]) -> MetadataShape:
    """Count what `metadata` holds, without recursion (a deep row must not overflow the stack)
    and without going on past MAX_METADATA_VALUES + 1 values (a huge one costs no more)."""
    values = chars = depth = most = 0
    deepest = largest = ""
    for column, value in metadata.items():
        before = values
        chars += len(column)
        pending: list[tuple[Any, int]] = [(value, 0)]
        while pending and values <= MAX_METADATA_VALUES:
            item, level = pending.pop()
            values += 1
            if isinstance(item, str):
                chars += len(item)
                continue
            members: list[Any] = []
            if isinstance(item, dict):
                chars += sum(map(len, item))
                members = list(item.values())
            elif isinstance(item, list):
                members = item
            else:
                continue
            if level + 1 > depth:
                depth, deepest = level + 1, column
            pending.extend((member, level + 1) for member in members[: MAX_METADATA_VALUES + 1])
        if values - before > most:
            most, largest = values - before, column
    return MetadataShape(values, chars, depth, deepest, largest)


def _nul_in(value: Any, where: str = "") -> str | None:
    """Where in `value` (`'labels'[2]`) a string or an object's name holds a NUL, if anywhere."""
    if isinstance(value, str):
        return (where or "a value") if "\x00" in value else None
    if isinstance(value, dict):
        for name, item in value.items():
            here = f"{where}[{quoted(name)}]" if where else quoted(name)
            found = here if "\x00" in name else _nul_in(item, here)
            if found is not None:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            if (found := _nul_in(item, f"{where}[{index}]")) is not None:
                return found
    return None
