"""The bodies Cloudflare answers with, success and failure, in every shape the contract lists.

Failures come in four shapes (the v4 envelope, `state: Failed`, `AiGatewayError`, a bare `error`)
and successes in six forms; a client has to read all of them, so the emulator can speak each one.
"""

import base64
from collections.abc import Callable
from enum import StrEnum
from typing import Any

from starlette.responses import JSONResponse, Response

from emulator.images import ImageRef

#: how a model's `result` holds its image URLs (`ModelAdapter.answer_result`)
AnswerShape = Callable[[list[str]], dict[str, Any]]

CAPACITY_CODE = 3040
CAPACITY_MESSAGE = "Capacity temporarily exceeded, please try again."


class ResponseForm(StrEnum):
    """How a successful call carries its images (each model itself answers `url`)."""

    #: as the model answers: `{"state": "Completed", "result": {"image": url}}` for Seedream 4.0,
    #: `result.images: [url, ...]` for 4.5
    url = "url"
    #: `result.images: [url, ...]` whatever the model
    images_list = "images_list"
    #: `result.image` is the JPEG in base64, as FLUX models answer
    base64 = "base64"
    #: `result.image` is a `data:image/jpeg;base64,` URI
    data_uri = "data_uri"
    #: the body is the JPEG itself, as the older path form answers
    raw = "raw"
    #: the classic `{"success": true, "result": {"image": url}, ...}` wrapper
    v4_envelope = "v4_envelope"


def v4_error(
    status: int, code: int, message: str, *, headers: dict[str, str] | None = None
) -> JSONResponse:
    """Cloudflare's REST envelope: `{"success": false, "errors": [{code, message}], ...}`."""
    body = {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }
    return JSONResponse(body, status_code=status, headers=headers)


def v4_success(result: Any, *, messages: list[dict[str, Any]] | None = None) -> JSONResponse:
    """Cloudflare's REST envelope around a result: `{"success": true, "result": ..., ...}`."""
    return JSONResponse(
        {"success": True, "errors": [], "messages": messages or [], "result": result}
    )


def capacity_exceeded(retry_after: int | None = None) -> JSONResponse:
    """429 / 3040, with `Retry-After` when the emulator knows when a slot frees."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return v4_error(429, CAPACITY_CODE, CAPACITY_MESSAGE, headers=headers)


def failed_state(status: int, code: str, message: str) -> JSONResponse:
    """The AI Gateway's provider-failure shape: `{"state": "Failed", "error": {code, message}}`."""
    return JSONResponse(
        {"state": "Failed", "error": {"code": code, "message": message}}, status_code=status
    )


def gateway_error(status: int, internal_code: int, message: str) -> JSONResponse:
    """The AI Gateway's own failure shape: `{"name": "AiGatewayError", "internalCode", ...}`."""
    body = {"name": "AiGatewayError", "internalCode": internal_code, "message": message}
    return JSONResponse(body, status_code=status)


async def image_answer(
    form: ResponseForm, images: list[ImageRef], base_url: str, answer: AnswerShape
) -> tuple[Response, int]:
    """A successful call's answer in `form`, and how many images it carries (each billed).

    `url` answers as the model does (`answer`: its adapter's `answer_result`); URL forms point
    back at this server's `/cdn/`. The base64 forms carry every image (`image`, or `images` for
    several); `raw` can carry only the first.
    """
    urls = [base_url.rstrip("/") + image.path() for image in images]
    match form:
        case ResponseForm.url:
            return JSONResponse(_completed(answer(urls))), len(urls)
        case ResponseForm.images_list:
            return JSONResponse(_completed({"images": urls})), len(urls)
        case ResponseForm.v4_envelope:
            body = {"success": True, "result": answer(urls), "errors": [], "messages": []}
            return JSONResponse(body), len(urls)
    if form is ResponseForm.raw:
        payload, media_type = await images[0].payload()
        return Response(payload, media_type=media_type), 1
    encoded = [await _encoded(image, data_uri=form is ResponseForm.data_uri) for image in images]
    result = {"image": encoded[0]} if len(encoded) == 1 else {"images": encoded}
    return JSONResponse(_completed(result)), len(encoded)


async def _encoded(image: ImageRef, *, data_uri: bool) -> str:
    payload, _ = await image.payload()
    encoded = base64.b64encode(payload).decode("ascii")
    return f"data:image/jpeg;base64,{encoded}" if data_uri else encoded


def _completed(result: dict[str, Any]) -> dict[str, Any]:
    return {"state": "Completed", "result": result, "gatewayMetadata": {"keySource": "Unified"}}
