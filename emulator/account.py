"""Cloudflare's account API as the preflight reads it: token verification and AI Gateway lookups.

`GET /client/v4/user/tokens/verify` (and the account form) answers whether the bearer token is
valid, `GET .../ai-gateway/gateways[/{id}]` lists the account's gateways or shows one. Answers are
the v4 envelope, with Cloudflare's codes: 1000 for a token it does not know, 7403 for an account
the token cannot reach, 9109 for a token without the AI Gateway permission, 404 for a gateway
that is not there. None of them is counted in the stats: they bill nothing and generate nothing.
"""

import secrets

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulator.config import EmulatorConfig
from emulator.responses import v4_error, v4_success
from emulator.state import EmulatorState

_V4 = "/client/v4"
#: the id verification reports for the emulator's one token (a real one is 32 hex digits)
TOKEN_ID = "0" * 32
INVALID_TOKEN = 1000
ACCOUNT_NOT_VALID = 7403
UNAUTHORIZED = 9109
GATEWAY_NOT_FOUND = 7002


def account_routes() -> list[Route]:
    """The account API's routes, to mount next to `ai/run`."""
    gateways = f"{_V4}/accounts/{{account_id}}/ai-gateway/gateways"
    return [
        Route(f"{_V4}/user/tokens/verify", verify_user_token, methods=["GET"]),
        Route(
            f"{_V4}/accounts/{{account_id}}/tokens/verify", verify_account_token, methods=["GET"]
        ),
        Route(gateways, list_gateways, methods=["GET"]),
        Route(f"{gateways}/{{gateway_id}}", get_gateway, methods=["GET"]),
    ]


def _config(request: Request) -> EmulatorConfig:
    state: EmulatorState = request.app.state.emulator
    return state.config


def _token_refused(request: Request, config: EmulatorConfig) -> Response | None:
    """401 / 1000 unless the request carries the emulator's token as a bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    expected = config.api_token.get_secret_value().encode()
    if scheme.lower() == "bearer" and secrets.compare_digest(token.strip().encode(), expected):
        return None
    return v4_error(401, INVALID_TOKEN, "Invalid API Token")


def _account_refused(request: Request, config: EmulatorConfig) -> Response | None:
    """The token's refusal, else 403 / 7403 for an account that is not the emulator's."""
    refused = _token_refused(request, config)
    if refused is not None or request.path_params["account_id"] == config.account_id:
        return refused
    return v4_error(
        403,
        ACCOUNT_NOT_VALID,
        "The given account is not valid or is not authorized to access this service",
    )


def _verified() -> JSONResponse:
    result = {"id": TOKEN_ID, "status": "active"}
    return v4_success(result, messages=[{"code": 10000, "message": "This API Token is valid"}])


async def verify_user_token(request: Request) -> Response:
    """`GET /client/v4/user/tokens/verify`."""
    return _token_refused(request, _config(request)) or _verified()


async def verify_account_token(request: Request) -> Response:
    """`GET /client/v4/accounts/{account_id}/tokens/verify`."""
    return _account_refused(request, _config(request)) or _verified()


def _gateway_refused(request: Request, config: EmulatorConfig) -> Response | None:
    """The account's refusal, else 403 / 9109 when the emulator plays a token without the AI
    Gateway permission."""
    refused = _account_refused(request, config)
    if refused is not None or config.gateway_read:
        return refused
    return v4_error(403, UNAUTHORIZED, "Unauthorized to access requested resource")


def _gateway(gateway_id: str, account_id: str) -> dict[str, object]:
    return {"id": gateway_id, "account_id": account_id, "rate_limiting_limit": 0}


async def list_gateways(request: Request) -> Response:
    """`GET .../ai-gateway/gateways`: the configured gateways (none listed when any exists)."""
    config = _config(request)
    refused = _gateway_refused(request, config)
    if refused is not None:
        return refused
    names = config.gateways or ()
    return v4_success([_gateway(name, config.account_id) for name in names])


async def get_gateway(request: Request) -> Response:
    """`GET .../ai-gateway/gateways/{gateway_id}`: 404 for one not configured (every one exists
    when none is configured)."""
    config = _config(request)
    refused = _gateway_refused(request, config)
    if refused is not None:
        return refused
    gateway_id = request.path_params["gateway_id"]
    if config.gateways is not None and gateway_id not in config.gateways:
        return v4_error(404, GATEWAY_NOT_FOUND, "Not Found")
    return v4_success(_gateway(gateway_id, config.account_id))
