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
from emulator.calls import check_credentials, generated_image, read_call
from emulator.config import EmulatorConfig
from emulator.control import control_routes
from emulator.faults import FaultKind, fault_response
from emulator.images import CDN_PREFIX, ImageRef
from emulator.responses import capacity_exceeded, image_answer
from emulator.state import EmulatorState

GATEWAY_HEADER = "cf-aig-gateway-id"
DEFAULT_GATEWAY = "default"


@dataclass(frozen=True)
class _Outcome:
    """One call's answer and what it counts as."""

    response: Response
    fault: FaultKind | None = None
    billed: bool = False
    rate_limited: bool = False


def create_app(config: EmulatorConfig | None = None) -> Starlette:
    """A Starlette app emulating Cloudflare under `config` (default: fast, no limit, no faults)."""
    app = Starlette(
        routes=[
            Route("/client/v4/accounts/{account_id}/ai/run", run_model, methods=["POST"]),
            Route(CDN_PREFIX + "/{size}/{name}", serve_image, methods=["GET"]),
            *account_routes(),
            *control_routes(),
        ]
    )
    app.state.emulator = EmulatorState(config or EmulatorConfig())
    return app


async def run_model(request: Request) -> Response:
    """`POST /client/v4/accounts/{account_id}/ai/run`: one image generation."""
    state: EmulatorState = request.app.state.emulator
    with state.stats.call():
        outcome = await _answer(request, state)
    state.stats.record(
        outcome.response.status_code,
        fault=outcome.fault,
        billed=outcome.billed,
        rate_limited=outcome.rate_limited,
    )
    return outcome.response


async def _answer(request: Request, state: EmulatorState) -> _Outcome:
    """Cloudflare's order: credentials, the gateway's limit, the call, then the provider."""
    config = state.config
    refused = check_credentials(request, request.path_params["account_id"], config)
    if refused is not None:
        return _Outcome(refused)
    retry_after = state.limiter.admit(request.headers.get(GATEWAY_HEADER) or DEFAULT_GATEWAY)
    if retry_after is not None:
        return _Outcome(capacity_exceeded(retry_after), rate_limited=True)
    spec = read_call(await request.body(), config)
    if isinstance(spec, Response):
        return _Outcome(spec)
    await asyncio.sleep(state.latency())
    fault = state.draw_fault()
    if fault is FaultKind.hang:
        await asyncio.sleep(config.hang_s)
    if fault is not None and fault is not FaultKind.non_image:
        return _Outcome(fault_response(fault), fault=fault)
    image = generated_image(spec, html=fault is FaultKind.non_image)
    response = await image_answer(config.response_form, image, str(request.base_url))
    return _Outcome(response, fault=fault, billed=True)


async def serve_image(request: Request) -> Response:
    """`GET /cdn/seedream-4-0/{w}x{h}/{seed}.jpeg`: draw the image a call returned, on demand."""
    image = ImageRef.parse(request.path_params["size"], request.path_params["name"])
    if image is None:
        return JSONResponse({"error": "no such image"}, status_code=404)
    payload, media_type = await image.payload()
    request.app.state.emulator.stats.images_served += 1
    return Response(payload, media_type=media_type)
