"""A model that answers with several images, for the tests of what the product does with them,
made known to `jobs.models` only for a test that asks for it (the `several_images_model`
fixture)."""

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from jobs.models import ModelAdapter, ModelInput


class SeveralInput(ModelInput):
    """A prompt, and how many images the call returns."""

    count: int = Field(default=1, ge=1, le=15)


class SeveralImages(ModelAdapter):
    name = "test/several-images"
    input_type = SeveralInput
    default_price_per_image = 0.04
    export_columns = (("count", int),)

    def most_images(self, spec: ModelInput) -> int:
        assert isinstance(spec, SeveralInput)
        return spec.count

    def export_row(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        return {"count": spec.get("count")}

    def output_size(
        self, spec: ModelInput, input_size: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        return 64, 64


SEVERAL_IMAGES = SeveralImages()
