"""Reading one `ai/run` call as Cloudflare would: credentials, then the body, model and input.

Each check answers with the status, code and shape the contract gives for that mistake. The input
rules are not restated here: the call's `input` is validated by its model's adapter
(`jobs.models`), which the producer and the worker use too, so the emulator can never drift from
the product's rules.
"""

import json
import secrets
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from emulator.config import EmulatorConfig
from emulator.images import ImageRef, cdn_name, seed_for_prompt
from emulator.responses import gateway_error, v4_error
from jobs.models import MODELS, ModelAdapter, ModelInput
from jobs.models.input_rules import decode_input_image

#: the largest body accepted: a 10 MB input image is ~13.4 MB in base64, plus the prompt
MAX_BODY_BYTES = 16 * 1024 * 1024
INVALID_INPUT = 5006
NO_SUCH_MODEL = 5007


@dataclass(frozen=True)
class ValidCall:
    """A call the emulator answers: its model and its input, validated by that model."""

    adapter: ModelAdapter
    spec: ModelInput


def check_credentials(request: Request, account_id: str, config: EmulatorConfig) -> Response | None:
    """401 / 2009 for a missing or wrong token, 403 / 3023 for another account; None when fine."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = config.api_token.get_secret_value()
    if scheme.lower() != "bearer" or not secrets.compare_digest(
        token.strip().encode(), expected.encode()
    ):
        return gateway_error(401, 2009, "Unauthorized: the API token is missing or not valid.")
    if account_id != config.account_id:
        return v4_error(403, 3023, f"Forbidden: this token cannot use account {account_id!r}.")
    return None


def read_call(body: bytes, config: EmulatorConfig) -> tuple[str | None, ValidCall | Response]:
    """The model the call names (None when it names none) and the call validated, or the
    400 / 413 answer saying what is wrong with it."""
    call = _call_object(body)
    if isinstance(call, Response):
        return None, call
    model = call.get("model")
    if not isinstance(model, str):
        return None, v4_error(400, INVALID_INPUT, "model: required, the model name as a string.")
    if model not in config.models or model not in MODELS:
        return model, v4_error(400, NO_SUCH_MODEL, f"No such model {model} or task.")
    given = call.get("input")
    if not isinstance(given, dict):
        return model, v4_error(
            400, INVALID_INPUT, "input: required, a JSON object with the model's inputs."
        )
    adapter = MODELS[model]
    try:
        return model, ValidCall(adapter, adapter.parse_input(given))
    except ValidationError as exc:
        return model, v4_error(400, INVALID_INPUT, describe_validation_error(exc, prefix="input"))


def _call_object(body: bytes) -> dict[str, object] | Response:
    """The body as a JSON object, or the answer refusing it."""
    if len(body) > MAX_BODY_BYTES:
        return v4_error(
            413, 3006, f"Request too large: the body is over {MAX_BODY_BYTES // (1024 * 1024)} MB."
        )
    try:
        call = json.loads(body)
    except ValueError:
        return v4_error(400, INVALID_INPUT, "The request body is not valid JSON.")
    if not isinstance(call, dict):
        return v4_error(
            400,
            INVALID_INPUT,
            'The request body must be a JSON object {"model": ..., "input": {...}}.',
        )
    return call


def describe_validation_error(exc: ValidationError, *, prefix: str = "") -> str:
    """`input.width: Input should be less than or equal to 4096; ...`: each field and its problem.

    Built from the error list, never `str(exc)`, which repeats the offending values (a token, a
    10 MB data URI) into the answer.
    """
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in (prefix, *error["loc"]) if part != "") or "body"
        problems.append(f"{field}: {error['msg'].removeprefix('Value error, ')}")
    return "; ".join(problems)


def generated_images(call: ValidCall, *, html: bool = False) -> list[ImageRef]:
    """The images a valid call produces: as many as its model answers with
    (`images_answered`), the size it would give them, seeds from the prompt (one per image).

    `html` makes them the `non_image` fault's HTML page in place of the JPEG.
    """
    adapter, spec = call.adapter, call.spec
    first = next(iter(spec.input_images()), None)
    input_size = decode_input_image(first).size if first and first.startswith("data:") else None
    width, height = adapter.output_size(spec, input_size)
    folder = cdn_name(adapter.name)
    return [
        ImageRef(width, height, seed_for_prompt(spec.prompt, index), html=html, model=folder)
        for index in range(adapter.images_answered(spec))
    ]
