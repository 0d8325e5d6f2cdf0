"""The emulator's HTTP surface: Cloudflare's `ai/run`, the image CDN and the control endpoints.

Everything that waits (latency, hangs, image drawing) is awaited, never blocking, so one process
keeps hundreds of slow calls in flight, as a fleet of workers against the real API does.
"""

import asyncio
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.account import account_routes
from emulator.calls import check_credentials, generated_images, read_call
from emulator.config import EmulatorConfig
from emulator.control import CONTROL_PREFIX, control_routes
from emulator.faults import FaultKind, fault_response, over_rate_answer
from emulator.gateway_headers import (
    INVALID_METADATA_CODE,
    GatewayHeaders,
    answer_ids,
    read_gateway_headers,
)
from emulator.images import CDN_PREFIX, ImageRef
from emulator.responses import gateway_error, image_answer
from emulator.state import EmulatorState
from emulator.stats import CallRecord
from jobs.gateway_headers import LOG_ID_HEADER


@dataclass(frozen=True)
class _Outcome:
    """One call's answer and what it counts as."""

    response: Response
    #: the model the call named, when it named one
    model: str | None = None
    fault: FaultKind | None = None
    #: images the answer carries, each billed
    images: int = 0
    rate_limited: bool = False


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A Starlette app emulating Cloudflare under `config` (default: fast, no limit, no faults)."""
    app = Starlette(
        routes=[
            Route("/client/v4/accounts/{account_id}/ai/run", run_model, methods=["POST"]),
            Route(CDN_PREFIX + "/{model}/{size}/{name}", serve_image, methods=["GET"]),
            Route(f"{CONTROL_PREFIX}/calls", recent_calls, methods=["GET"]),
            *account_routes(),
            *control_routes(),
        ]
    )
    app.state.emulator = EmulatorState(config or EmulatorConfig())
    return app


async def run_model(request: Request) -> Response:
    """`POST /client/v4/accounts/{account_id}/ai/run`: one image generation (one image or more)."""
    state: EmulatorState = request.app.state.emulator
    headers = read_gateway_headers(request.headers)
    with state.stats.call():
        outcome = await _answer(request, state, headers)
    response = outcome.response
    response.headers.update(answer_ids())
    call = CallRecord(
        model=outcome.model,
        gateway=headers.gateway,
        metadata=headers.metadata,
        log_id=response.headers[LOG_ID_HEADER],
        status=response.status_code,
        images=outcome.images,
        skip_cache=headers.skip_cache,
        max_attempts=headers.max_attempts,
    )
    state.stats.record(call, fault=outcome.fault, rate_limited=outcome.rate_limited)
    return response


async def _answer(request: Request, state: EmulatorState, headers: GatewayHeaders) -> _Outcome:
    """Cloudflare's order: credentials, the gateway's headers and limit, the call, the provider."""
    config = state.config
    refused = check_credentials(request, request.path_params["account_id"], config)
    if refused is not None:
        return _Outcome(refused)
    if headers.problem is not None:
        return _Outcome(gateway_error(400, INVALID_METADATA_CODE, headers.problem))
    retry_after = state.limiter.admit(headers.gateway)
    if retry_after is not None:
        answer = over_rate_answer(config.rate_limit_answer, retry_after)
        return _Outcome(answer, rate_limited=True)
    model, call = read_call(await request.body(), config)
    if isinstance(call, Response):
        return _Outcome(call, model)
    await asyncio.sleep(state.latency())
    fault = state.draw_fault()
    if fault is FaultKind.hang:
        await asyncio.sleep(config.hang_s)
    if fault is not None and fault is not FaultKind.non_image:
        return _Outcome(fault_response(fault), model, fault=fault)
    images = generated_images(call, html=fault is FaultKind.non_image)
    response, answered = await image_answer(
        config.response_form, images, str(request.base_url), call.adapter.answer_result
    )
    return _Outcome(response, model, fault=fault, images=answered)


async def serve_image(request: Request) -> Response:
    """`GET /cdn/seedream-4-0/{w}x{h}/{seed}.jpeg`: draw the image a call returned, on demand."""
    params = request.path_params
    image = ImageRef.parse(params["model"], params["size"], params["name"])
    if image is None:
        return JSONResponse({"error": "no such image"}, status_code=404)
    payload, media_type = await image.payload()
    request.app.state.emulator.stats.images_served += 1
    return Response(payload, media_type=media_type)


async def recent_calls(request: Request) -> JSONResponse:
    """`GET /__emulator/calls`: the last calls, newest last, as `emulator.stats.CallRecord`."""
    state: EmulatorState = request.app.state.emulator
    return JSONResponse(state.stats.recent_calls())
