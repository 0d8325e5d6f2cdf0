"""What the product must know of a model to queue, call, bill and export it: one adapter each.

A model differs from another in four places, and only there: the `input` its calls take (fields,
enums, ranges, cross-field rules, as a pydantic model), how its answer's `result` holds images,
what an image costs, and which of its input fields an export shows as columns. Everything else
(the envelope, the errors, the limiter, storage, the table) is the same for every model, so an
adapter is small and a new model is one new module in `jobs.models` plus its tests.

    adapter = model_named("bytedance/seedream-4.5")
    spec = adapter.parse_input({"prompt": "a fox", "max_images": 3})
    adapter.most_images(spec)          # 3: what the budget holds back for one call
    adapter.answer_images(result)      # ["https://...", ...]: every image is stored and billed
"""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobs.models.input_rules import check_prompt


class ModelInput(BaseModel):
    """The `input` object of one call to some model; each adapter's `input_type` extends it.

    Every model takes a prompt, held to the same rules (jobs.models.input_rules); what else it
    takes is the subclass's. Fields left out are not sent.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the fields holding input images (an image URI, or a list of them): the producer reads a
    #: local file named there and sends it inline, the emulator sizes `match_input_image` by the
    #: first, and none of their data URIs is ever exported
    image_fields: ClassVar[tuple[str, ...]] = ()

    prompt: str = Field(min_length=1)

    @field_validator("prompt")
    @classmethod
    def _prompt_has_words(cls, prompt: str) -> str:
        return check_prompt(prompt)

    def text_chars(self) -> int:
        """The characters of text the input holds (its prompt, image URIs, data URIs among them):
        about what it weighs in memory, for the producer's chunking."""
        return len(self.prompt) + sum(map(len, self.input_images()))

    def input_images(self) -> list[str]:
        """Every input image the call sends, in the order of `image_fields` and of each list."""
        found: list[str] = []
        for name in self.image_fields:
            value = getattr(self, name)
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, list):
                found += cast(list[str], value)
        return found

    def payload(self) -> dict[str, Any]:
        """The JSON object sent as `input`: only the fields that were given."""
        return self.model_dump(mode="json", exclude_none=True)

    def payload_json(self) -> str:
        """`payload()` as JSON text, as the results table stores it. Serialised by pydantic-core
        directly: model_dump_json's Python wrapper cost 2 µs a row of a million-row manifest."""
        return self.__pydantic_serializer__.to_json(self, exclude_none=True).decode()


class ModelAdapter(ABC):
    """One model as the product calls it. Subclasses set the class attributes and `export_row`."""

    #: the name Cloudflare knows it by (`bytedance/seedream-4.0`), sent as the call's `model`
    name: ClassVar[str]
    #: validates the call's `input`: the producer (manifest rows), the worker (rows read back) and
    #: the emulator (requests) all validate with it, so the rules are written once
    input_type: ClassVar[type[ModelInput]]
    #: USD per image when the settings name no price for this model: an estimate, see
    #: `price_per_image` in config/settings.py
    default_price_per_image: ClassVar[float]
    #: The provider limit the model's calls count against: the fleet paces each scope with one
    #: limiter (worker.limiter). Partner models under Unified Billing (every Seedream) share each
    #: AI Gateway's limit (200 calls per 60 s, whatever the model), so they share one scope:
    #: keying the limiter on the model would let two batches of two models send twice the limit
    #: through one gateway. A Workers AI model of Cloudflare's own (720 calls a minute per account
    #: and model) would take its own name as its scope.
    limit_scope: ClassVar[str] = "gateway"
    #: the columns `export_row` gives, in order, with their types (for typed formats: parquet)
    export_columns: ClassVar[tuple[tuple[str, type], ...]]

    def parse_input(self, given: Mapping[str, Any]) -> ModelInput:
        """The call's input, validated; pydantic's ValidationError saying what is wrong.

        Straight through the model's validator: model_validate's Python wrapper cost 1 µs a row
        of a manifest, a tenth of validating it."""
        return self.input_type.__pydantic_validator__.validate_python(given)  # type: ignore[no-any-return]

    def most_images(self, spec: ModelInput) -> int:
        """The most images one call with `spec` may return, each billed: what a budget holds back
        for the call before it is made. One, unless the model can answer with several."""
        return 1

    def answer_images(self, result: Mapping[str, Any]) -> list[str]:
        """The images an answer's `result` holds, as URLs or base64 (data URIs included), in order.

        Read defensively, whatever the model: `images` (a list) and `image` (one) are both
        looked for, since proxies and sibling models answer either way.
        """
        images = result.get("images")
        if isinstance(images, list):
            found = [image.strip() for image in images if isinstance(image, str) and image.strip()]
            if found:
                return found
        image = result.get("image")
        return [image.strip()] if isinstance(image, str) and image.strip() else []

    def answer_result(self, images: list[str]) -> dict[str, Any]:
        """The `result` object this model answers with for `images`: how the emulator speaks it."""
        return {"images": images} if len(images) != 1 else {"image": images[0]}

    @abstractmethod
    def export_row(self, spec: Mapping[str, Any]) -> dict[str, Any]:
        """The columns an export shows for a job's input (`spec` as the table stores it), keyed
        by the names in `export_columns`; never a data URI's payload."""

    @abstractmethod
    def output_size(
        self, spec: ModelInput, input_size: tuple[int, int] | None = None
    ) -> tuple[int, int]:
        """The width and height of an image generated for `spec` (`input_size`: the input
        image's, when known): what the emulator draws."""

    def images_answered(self, spec: ModelInput) -> int:
        """How many images the emulator answers a call with: `most_images`, unless the model
        decides for itself (Seedream 4.5's `sequential_image_generation: auto`)."""
        return self.most_images(spec)
