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
from jobs.models.input_rules import AspectRatio, check_image_uri, exported_image
from jobs.models.output_sizes import default_ratio, tier_dimensions

MIN_SIDE = 1024
MAX_SIDE = 4096


class Size(StrEnum):
    """Output size tier; `custom` takes `width` and `height` instead."""

    one_k = "1K"
    two_k = "2K"
    four_k = "4K"
    custom = "custom"


#: each tier against Seedream's recommended 2K sizes (jobs.models.output_sizes), long side capped
_TIER_SCALE = {Size.one_k: 0.5, Size.two_k: 1.0, Size.four_k: 2.0}
#: what a call that names no size gets: the contract is silent, 2K is Seedream's own default
DEFAULT_SIZE = Size.two_k
#: read off their enums once: on Python 3.11 each read of `Size.custom` costs 0.2 µs, and the
#: rules below run for every row of a manifest
_CUSTOM = Size.custom
_MATCH_INPUT_IMAGE = AspectRatio.match_input_image


class Seedream40Input(ModelInput):
    """The `input` of one Seedream 4.0 call. Fields left out are not sent."""

    image_fields = ("image",)

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
        custom = self.size is _CUSTOM
        if custom and (self.width is None or self.height is None):
            raise ValueError("size 'custom' needs both width and height")
        if not custom and (self.width is not None or self.height is not None):
            raise ValueError("width and height are only allowed with size 'custom'")
        if self.aspect_ratio is _MATCH_INPUT_IMAGE and self.image is None:
            raise ValueError("aspect_ratio 'match_input_image' needs an image")
        return self


def output_dimensions(
    spec: Seedream40Input, input_size: tuple[int, int] | None = None
) -> tuple[int, int]:
    """The width and height an image generated for `spec` has.

    `custom` is exact. A tier is `jobs.models.output_sizes`' size for the aspect ratio, the long
    side capped at MAX_SIDE; `input_size` is the input image's size when known (a data URI).
    """
    if spec.size is Size.custom:
        assert spec.width is not None
        assert spec.height is not None
        return spec.width, spec.height
    ratio = default_ratio(spec.aspect_ratio, spec.image is not None)
    scale = _TIER_SCALE[spec.size or DEFAULT_SIZE]
    return tier_dimensions(scale, ratio, input_size, max_side=MAX_SIDE)


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
        #: an input image's URL, or INLINE_IMAGE (jobs.models.input_rules)
        ("input_image", str),
    )

    def export_row(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "size": spec.get("size"),
            "aspect_ratio": spec.get("aspect_ratio"),
            "custom_width": spec.get("width"),
            "custom_height": spec.get("height"),
            "enhance_prompt": spec.get("enhance_prompt"),
            "input_image": exported_image(spec.get("image")),
        }

    def output_size(
        self, spec: ModelInput, input_size: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        assert isinstance(spec, Seedream40Input)
        return output_dimensions(spec, input_size)


ADAPTER = Seedream40()
