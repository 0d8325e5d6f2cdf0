"""Seedream 4.0 (`bytedance/seedream-4.0`): one image per call, 1K to 4K or a custom size.

Its input, as Cloudflare's model page lists it: `prompt`, `size` (`1K` `2K` `4K` `custom`),
`aspect_ratio`, `width`/`height` (1024-4096, with `custom` only), `enhance_prompt`, and `image`
(the image to edit). It answers `result.image`, one URL.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from jobs.models.adapter import ModelAdapter, ModelInput
from jobs.models.input_rules import AspectRatio, check_image_uri

MIN_SIDE = 1024
MAX_SIDE = 4096
#: an input image given inline (a data URI) is exported as this, never as its payload
INLINE_IMAGE = "inline"


class Size(StrEnum):
    """Output size tier; `custom` takes `width` and `height` instead."""

    one_k = "1K"
    two_k = "2K"
    four_k = "4K"
    custom = "custom"


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


class Seedream40Input(ModelInput):
    """The `input` of one Seedream 4.0 call. Fields left out are not sent."""

    size: Size | None = None
    aspect_ratio: AspectRatio | None = None
    width: int | None = Field(default=None, ge=MIN_SIDE, le=MAX_SIDE)
    height: int | None = Field(default=None, ge=MIN_SIDE, le=MAX_SIDE)
    enhance_prompt: bool | None = None
    image: str | None = None

    @field_validator("image")
    @classmethod
    def _image_is_uri(cls, image: str) -> str:
        return check_image_uri(image)

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


def output_dimensions(
    spec: Seedream40Input, input_size: tuple[int, int] | None = None
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


class Seedream40(ModelAdapter):
    name = "bytedance/seedream-4.0"
    input_type = Seedream40Input
    #: what Cloudflare's peers list (Replicate, Vercel's gateway); Cloudflare's catalog shows none
    default_price_per_image = 0.03
    export_columns = (
        ("size", str),
        ("aspect_ratio", str),
        #: the requested width and height, given only with size `custom`
        ("custom_width", int),
        ("custom_height", int),
        ("enhance_prompt", bool),
        #: an input image's URL, or INLINE_IMAGE
        ("input_image", str),
    )

    def export_row(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        image = spec.get("image")
        return {
            "size": spec.get("size"),
            "aspect_ratio": spec.get("aspect_ratio"),
            "custom_width": spec.get("width"),
            "custom_height": spec.get("height"),
            "enhance_prompt": spec.get("enhance_prompt"),
            "input_image": image if image is None or image.startswith("http") else INLINE_IMAGE,
        }

    def output_size(
        self, spec: ModelInput, input_size: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        assert isinstance(spec, Seedream40Input)
        return output_dimensions(spec, input_size)


ADAPTER = Seedream40()
