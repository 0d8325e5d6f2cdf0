"""Reading one `ai/run` call as Cloudflare would: credentials, then the body, model and input.

Each check answers with the status, code and shape the contract gives for that mistake. The input
rules are not restated here: the call's `input` is validated by its model's adapter
(`jobs.models`), which the producer and the worker use too, so the emulator can never drift from
the product's rules.
"""

import json
import secrets

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response

from emulator.config import EmulatorConfig
from emulator.images import ImageRef, seed_for_prompt
from emulator.responses import gateway_error, v4_error
from jobs.models.input_rules import decode_input_image
from jobs.models.seedream_4_0 import Seedream40Input, output_dimensions

#: the largest body accepted: a 10 MB input image is ~13.4 MB in base64, plus the prompt
MAX_BODY_BYTES = 16 * 1024 * 1024
INVALID_INPUT = 5006


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


def read_call(body: bytes, config: EmulatorConfig) -> Seedream40Input | Response:
    """The call's validated input, or the 400 / 413 answer saying what is wrong with it."""
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
    model = call.get("model")
    if not isinstance(model, str):
        return v4_error(400, INVALID_INPUT, "model: required, the model name as a string.")
    if model != config.model:
        return v4_error(400, 5007, f"No such model {model} or task.")
    given = call.get("input")
    if not isinstance(given, dict):
        return v4_error(
            400, INVALID_INPUT, "input: required, a JSON object with the model's inputs."
        )
    try:
        return Seedream40Input.model_validate(given)
    except ValidationError as exc:
        return v4_error(400, INVALID_INPUT, describe_validation_error(exc, prefix="input"))


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


def generated_image(spec: Seedream40Input, *, html: bool = False) -> ImageRef:
    """The image a valid call produces: the size Seedream would give it, a seed from the prompt.

    `html` makes it the `non_image` fault's HTML page in place of the JPEG.
    """
    data_uri = spec.image if spec.image and spec.image.startswith("data:") else None
    input_size = decode_input_image(data_uri).size if data_uri else None
    width, height = output_dimensions(spec, input_size)
    return ImageRef(width, height, seed_for_prompt(spec.prompt), html=html)
