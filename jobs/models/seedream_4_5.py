"""Seedream 4.5 (`bytedance/seedream-4.5`): 2K or 4K, several reference images, several outputs.

Its input, as Cloudflare's model page lists it (additionalProperties false): `prompt`, `size`
(`2K` `4K`), `aspect_ratio`, `image_input` (reference images to edit or combine), `max_images`
(1-15), `sequential_image_generation` (`disabled` `auto`) and `disable_safety_checker`. It answers
`result.images`, one URL or more, each billed.

How many images a call returns, as ByteDance documents it: `disabled` (the default) makes one;
`auto` lets the model decide, up to `max_images`. A batch holds back budget for the most a call
may return before it is made, so this product refuses the two inputs whose worst case it cannot
know or that ask for what would not come:

* `auto` without `max_images`: how many the provider's default allows is not documented by
  Cloudflare; the row must say how many images it may pay for;
* `max_images` above 1 without `auto`: the model makes one image, whatever `max_images` says.

So `most_images` is `max_images` when given, else 1, and is never below what the call returns.
"""

import hashlib
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, field_validator, model_validator

from jobs.models.adapter import ModelAdapter, ModelInput
from jobs.models.input_rules import (
    MAX_INPUT_IMAGE_BYTES,
    AspectRatio,
    check_image_uri,
    exported_image,
)
from jobs.models.output_sizes import default_ratio, tier_dimensions

#: The most images one call may produce; ByteDance counts the reference images too: the input
#: images and the generated ones together are at most this many.
MAX_IMAGES_PER_CALL = 15
#: The most reference images one call takes (ByteDance's limit: one less than MAX_IMAGES_PER_CALL,
#: so that at least one image is generated).
MAX_INPUT_IMAGES = MAX_IMAGES_PER_CALL - 1
#: The most bytes of images one call sends inline (data URIs), all its references together: what
#: one inline image may weigh. A manifest row, a stored job and a request body are sized for one
#: such image (MAX_ROW_BYTES, the emulator's body limit); fourteen would make a 190 MB row. The
#: other references go as URLs, which cost nothing.
MAX_INLINE_BYTES = MAX_INPUT_IMAGE_BYTES


class Size(StrEnum):
    """Output size tier (4.5 has neither 1K nor custom sizes)."""

    two_k = "2K"
    four_k = "4K"


class SequentialGeneration(StrEnum):
    """Whether the model may answer with a set of related images."""

    #: one image
    disabled = "disabled"
    #: the model decides how many, up to max_images
    auto = "auto"


#: each tier against Seedream's recommended 2K sizes (jobs.models.output_sizes); 4.5's 4K is
#: uncapped (its 16:9 4K image is over 5000 px wide)
_TIER_SCALE = {Size.two_k: 1.0, Size.four_k: 2.0}
#: what a call that names no size gets: Seedream's own default
DEFAULT_SIZE = Size.two_k


class Seedream45Input(ModelInput):
    """The `input` of one Seedream 4.5 call. Fields left out are not sent."""

    image_fields = ("image_input",)

    size: Size | None = None
    aspect_ratio: AspectRatio | None = None
    image_input: list[str] | None = Field(default=None, min_length=1, max_length=MAX_INPUT_IMAGES)
    max_images: int | None = Field(default=None, ge=1, le=MAX_IMAGES_PER_CALL)
    sequential_image_generation: SequentialGeneration | None = None
    disable_safety_checker: bool | None = None

    @field_validator("image_input")
    @classmethod
    def _images_are_uris(cls, images: list[str]) -> list[str]:
        inline = sum(len(image) * 3 // 4 for image in images if image.startswith("data:"))
        if inline > MAX_INLINE_BYTES:
            raise ValueError(
                f"its inline images (data URIs) weigh about {inline / 2**20:.1f} MB together; at "
                f"most {MAX_INLINE_BYTES // 2**20} MB of images are sent inline in one call: give "
                "the others as URLs"
            )
        for index, image in enumerate(images):
            try:
                check_image_uri(image)
            except ValueError as exc:
                raise ValueError(f"image {index + 1} of {len(images)}: {exc}") from None
        return images

    @model_validator(mode="after")
    def _fields_agree(self) -> Self:
        auto = self.sequential_image_generation is SequentialGeneration.auto
        if auto and self.max_images is None:
            raise ValueError(
                "sequential_image_generation 'auto' needs max_images (1 to "
                f"{MAX_IMAGES_PER_CALL}): the model decides how many images to make and each is "
                "billed, so the row says how many it may pay for"
            )
        if not auto and (self.max_images or 1) > 1:
            raise ValueError(
                "max_images above 1 needs sequential_image_generation 'auto': without it the "
                "model makes one image"
            )
        inputs = len(self.image_input or ())
        if inputs + (self.max_images or 1) > MAX_IMAGES_PER_CALL:
            raise ValueError(
                f"image_input holds {inputs} images and max_images asks for "
                f"{self.max_images or 1}: together at most {MAX_IMAGES_PER_CALL} are allowed"
            )
        if self.aspect_ratio is AspectRatio.match_input_image and not inputs:
            raise ValueError("aspect_ratio 'match_input_image' needs an image_input")
        return self


class Seedream45(ModelAdapter):
    name = "bytedance/seedream-4.5"
    input_type = Seedream45Input
    #: Cloudflare's catalog lists no price for it; Replicate's list price, as an estimate
    default_price_per_image = 0.04
    export_columns = (
        ("size", str),
        ("aspect_ratio", str),
        #: how many reference images the call sent
        ("input_image_count", int),
        #: their URLs, space-separated, INLINE_IMAGE (jobs.models.input_rules) for a data URI
        ("input_images", str),
        ("max_images", int),
        ("sequential_image_generation", str),
        ("disable_safety_checker", bool),
    )

    def most_images(self, spec: ModelInput) -> int:
        assert isinstance(spec, Seedream45Input)
        return spec.max_images or 1

    def images_answered(self, spec: ModelInput) -> int:
        """With `auto`, 1 to max_images, fixed by the prompt (the model decides; a test needs
        the same answer each time); else the one image `disabled` makes."""
        assert isinstance(spec, Seedream45Input)
        if spec.sequential_image_generation is not SequentialGeneration.auto:
            return 1
        digest = hashlib.sha256(spec.prompt.encode("utf-8", "surrogatepass")).digest()
        return 1 + int.from_bytes(digest[:8]) % self.most_images(spec)

    def answer_result(self, images: list[str]) -> dict[str, Any]:
        return {"images": images}

    def export_row(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        images = spec.get("image_input") or []
        return {
            "size": spec.get("size"),
            "aspect_ratio": spec.get("aspect_ratio"),
            "input_image_count": len(images),
            "input_images": " ".join(str(exported_image(image)) for image in images) or None,
            "max_images": spec.get("max_images"),
            "sequential_image_generation": spec.get("sequential_image_generation"),
            "disable_safety_checker": spec.get("disable_safety_checker"),
        }

    def output_size(
        self, spec: ModelInput, input_size: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        assert isinstance(spec, Seedream45Input)
        ratio = default_ratio(spec.aspect_ratio, bool(spec.image_input))
        return tier_dimensions(_TIER_SCALE[spec.size or DEFAULT_SIZE], ratio, input_size)


ADAPTER = Seedream45()
