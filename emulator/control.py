"""`/__emulator/...`: how tests and benchmarks read the counters and change the emulator live.

No credentials: these exist only on the emulator, which listens on localhost for test runs; a
client of the real API never calls them. The token is never shown.
"""

import json

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from emulator.calls import describe_validation_error
from emulator.faults import FaultKind
from emulator.state import EmulatorState

CONTROL_PREFIX = "/__emulator"


def control_routes() -> list[Route]:
    """The control endpoints, to mount next to the API."""
    return [
        Route(f"{CONTROL_PREFIX}/stats", stats, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/reset", reset, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/config", show_config, methods=["GET"]),
        Route(f"{CONTROL_PREFIX}/config", change_config, methods=["POST"]),
        Route(f"{CONTROL_PREFIX}/inject", inject, methods=["POST"]),
    ]


def _state(request: Request) -> EmulatorState:
    state: EmulatorState = request.app.state.emulator
    return state


async def stats(request: Request) -> JSONResponse:
    """The counters since start or the last reset, and each gateway's rate-window maximum."""
    return JSONResponse(_state(request).snapshot())


async def reset(request: Request) -> JSONResponse:
    """Zero the counters and rate windows, so a test or benchmark starts from nothing."""
    state = _state(request)
    state.reset()
    return JSONResponse(state.snapshot())


async def show_config(request: Request) -> JSONResponse:
    """The configuration in force (without the token)."""
    return JSONResponse(_state(request).config.public())


async def change_config(request: Request) -> JSONResponse:
    """Apply the fields in the JSON body (e.g. `{"rate_limit": "5/2s"}`); 400 names a bad one."""
    state = _state(request)
    try:
        changes = json.loads(await request.body())
    except ValueError:
        return JSONResponse({"error": "the body is not valid JSON"}, status_code=400)
    if not isinstance(changes, dict):
        return JSONResponse(
            {"error": "the body must be a JSON object of settings"}, status_code=400
        )
    try:
        config = state.config.updated(changes)
    except ValidationError as exc:
        return JSONResponse({"error": describe_validation_error(exc)}, status_code=400)
    state.configure(config)
    return JSONResponse(config.public())


async def inject(request: Request) -> JSONResponse:
    """`{"kind": "gateway_429", "count": 1}`: the next `count` calls suffer that fault (a stray
    refusal at a chosen moment, which a probability cannot place); 400 names a bad field."""
    try:
        body = json.loads(await request.body())
        kind = FaultKind(body["kind"])
        count = body.get("count", 1)
    except (ValueError, KeyError, TypeError) as exc:
        known = ", ".join(FaultKind)
        return JSONResponse(
            {"error": f'expected {{"kind": one of {known}, "count": n}} ({exc!r})'},
            status_code=400,
        )
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        return JSONResponse({"error": "count must be a whole number >= 1"}, status_code=400)
    state = _state(request)
    state.inject(kind, count)
    return JSONResponse({"kind": kind.value, "pending": len(state.injected)})
