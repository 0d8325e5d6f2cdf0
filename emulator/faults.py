"""Injected failures: each accepted call draws once and may answer with one of these instead.

Every kind is a failure the contract says a client must survive, in the shape and status Cloudflare
(or something between it and the client) would use. Probabilities are per kind; one draw per call
keeps the kinds mutually exclusive, and a seeded draw makes a test's sequence of faults repeatable.
"""

import random
from collections.abc import Callable, Mapping
from enum import StrEnum

from starlette.responses import JSONResponse, Response

from emulator.responses import capacity_exceeded, failed_state, gateway_error, v4_error

QUOTA_MESSAGE = (
    "4006: you have used up your daily free allocation of 10,000 neurons, please upgrade to "
    "Cloudflare's Workers Paid plan if you would like to continue usage."
)
MODERATION_MESSAGE = (
    "The request was rejected because it was flagged by the content moderation system: "
    "the input text may contain sensitive information."
)
#: a JSON answer cut short, as a proxy dropping the connection mid-body leaves it
MALFORMED_BODY = b'{"state": "Completed", "result": {"image": "https://'
#: AI Gateway's answer to an over-rate call, exactly as it sends it: `error` a list, the code
#: twice, a 401 that says "Unauthorized" though the token is fine
OVER_RATE_BODY = {
    "success": False,
    "result": [],
    "error": [{"code": 2009, "message": "Unauthorized"}],
    "name": "AiGatewayError",
    "httpCode": 401,
    "internalCode": 2009,
}
#: a spent gateway's 429 (Cloudflare documents the status, not the wording; this is our guess)
SPEND_LIMIT_MESSAGE = "Gateway spend limit exceeded: the budget for this window is used up."


class FaultKind(StrEnum):
    """What can go wrong with one call."""

    #: 503, `state: Failed`, provider_unavailable
    server_error = "server_error"
    #: 429, v4 envelope 3040, no Retry-After (the provider, not the gateway, is full)
    capacity = "capacity"
    #: 408, v4 envelope 3007
    timeout = "timeout"
    #: no answer for `hang_s`, then 504: what a client's read timeout is for
    hang = "hang"
    #: 429, the daily free allocation is used up (4006): not worth retrying today
    quota = "quota"
    #: 500, `AiGatewayError`
    gateway_error = "gateway_error"
    #: 200 carrying `state: Failed`
    failed_200 = "failed_200"
    #: 400, the prompt was refused by moderation
    content_policy = "content_policy"
    #: 200 whose body is not JSON
    malformed = "malformed"
    #: a normal, billed success whose "image" is an HTML page
    non_image = "non_image"
    #: 500 v4 envelope whose `errors` is an object, not a list
    errors_object = "errors_object"
    #: 401 / 2009, AI Gateway's answer to an over-rate call (OVER_RATE_BODY)
    over_rate = "over_rate"
    #: 429 whose message names a spend limit: the gateway's budget is used up
    spend_limit = "spend_limit"
    #: 429 with no code, no Retry-After: a gateway's rate limit as a proxy or gateway says it
    gateway_429 = "gateway_429"


class RateLimitAnswer(StrEnum):
    """How the emulator's own rate limit refuses an over-rate call."""

    #: 429 / 3040 with Retry-After (the emulator's default, as it always answered)
    capacity = "capacity"
    #: 401 / 2009, OVER_RATE_BODY: what a real AI Gateway answers
    unauthorized = "unauthorized"
    #: 429 with no code, with Retry-After
    plain_429 = "plain_429"


def draw_fault(rng: random.Random, probabilities: Mapping[FaultKind, float]) -> FaultKind | None:
    """One draw: a kind with its probability, or None (the call goes through).

    Kinds are visited in declaration order, so a seed gives the same faults whatever order the
    configuration listed them in.
    """
    roll = rng.random()
    for kind in FaultKind:
        chance = probabilities.get(kind, 0.0)
        if roll < chance:
            return kind
        roll -= chance
    return None


def _errors_object() -> Response:
    body = {
        "success": False,
        "errors": {"code": 3043, "message": "Internal server error"},
        "messages": [],
        "result": None,
    }
    return JSONResponse(body, status_code=500)


#: the answer each fault gives in place of the image (every kind but `non_image`)
_FAULT_ANSWERS: dict[FaultKind, Callable[[], Response]] = {
    FaultKind.server_error: lambda: failed_state(
        503, "provider_unavailable", "All providers for this model are currently unavailable."
    ),
    FaultKind.capacity: capacity_exceeded,
    FaultKind.timeout: lambda: v4_error(
        408, 3007, "Request timeout: the provider took too long to answer."
    ),
    FaultKind.hang: lambda: failed_state(
        504, "gateway_timeout", "The provider did not answer in time."
    ),
    FaultKind.quota: lambda: JSONResponse(
        {"error": {"code": "internal_error", "message": QUOTA_MESSAGE}}, status_code=429
    ),
    FaultKind.gateway_error: lambda: gateway_error(
        500, 2005, "Failed to reach the provider: upstream connection reset."
    ),
    FaultKind.failed_200: lambda: failed_state(
        200, "provider_error", "The provider failed to generate the image."
    ),
    FaultKind.content_policy: lambda: failed_state(
        400, "InputTextSensitiveContentDetected", MODERATION_MESSAGE
    ),
    FaultKind.malformed: lambda: Response(
        MALFORMED_BODY, status_code=200, media_type="application/json"
    ),
    FaultKind.errors_object: _errors_object,
    FaultKind.over_rate: lambda: JSONResponse(OVER_RATE_BODY, status_code=401),
    FaultKind.spend_limit: lambda: JSONResponse(
        {
            "success": False,
            "error": [{"message": SPEND_LIMIT_MESSAGE}],
            "name": "AiGatewayError",
            "httpCode": 429,
        },
        status_code=429,
    ),
    FaultKind.gateway_429: lambda: _plain_429(None),
}


def fault_response(kind: FaultKind) -> Response:
    """The answer for a fault that replaces the image (every kind but `non_image`)."""
    answer = _FAULT_ANSWERS.get(kind)
    if answer is None:
        raise ValueError(f"{kind} is answered with an image, not an error")
    return answer()


def over_rate_answer(answer: RateLimitAnswer, retry_after: int) -> Response:
    """The emulator's own limit refusing a call, in the form `answer` names (the 401 carries no
    Retry-After: a real gateway's does not say)."""
    headers = {"Retry-After": str(retry_after)}
    match answer:
        case RateLimitAnswer.capacity:
            return capacity_exceeded(retry_after)
        case RateLimitAnswer.unauthorized:
            return JSONResponse(OVER_RATE_BODY, status_code=401)
        case RateLimitAnswer.plain_429:
            return _plain_429(headers)


def _plain_429(headers: dict[str, str] | None) -> Response:
    return JSONResponse(
        {"success": False, "error": "Too Many Requests"}, status_code=429, headers=headers
    )
