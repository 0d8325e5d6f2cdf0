"""Cloudflare's account API, read-only: is the token valid, the account reachable, a gateway there.

`doctor` and the preflight of `run` and `submit` ask these before a batch is recorded; none of
them generates an image or costs anything. Like `worker.cloudflare`, the client goes through the
guarded network with one deadline per call, and masks the token in every body before anything
reads it, so no answer that echoes the request can carry it into a message.

Each answer is Cloudflare's v4 envelope (`success`, `errors: [{code, message}]`, `result`);
what an answer means for the user is the preflight's to say (`producer.preflight`).
"""

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from config.settings import Settings
from jobs.errors import ProviderTimeout
from jobs.redaction import describe_error
from worker.bounded_body import IDENTITY, UnreadableBody, read_bounded
from worker.guarded_network import deadline, guarded_client
from worker.owned_pool import OwnsItsPool

#: each of these calls answers in well under a second; 15 s leaves room for a slow link, and a
#: preflight never waits the minutes a generation may take (SEEDREAM_API_TIMEOUT_SECONDS)
ACCOUNT_CALL_TIMEOUT_S = 15.0
#: an envelope with one gateway's settings, or one error, is a few KB; a page of gateways is
#: asked for with one entry, so this is room to spare, and a stranger's body is read no further
ANSWER_CAP_BYTES = 256 * 1024
#: one call at a time: the checks are made one after the other
_CONNECTIONS = 1


class AccountApiUnreachable(ConnectionError):
    """Cloudflare's API could not be reached or did not answer in time; the message says why."""


@dataclass(frozen=True)
class ApiAnswer:
    """One answer of the account API, as its envelope says it (the token masked)."""

    status: int
    success: bool
    #: the codes of `errors`, in order (Cloudflare's numbers: 1000 invalid token, 9109, ...)
    codes: tuple[int, ...] = ()
    #: the first error's message, or empty
    message: str = ""
    result: Any = field(default=None)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300 and self.success

    def described(self) -> str:
        """`HTTP 401, code 1000: Invalid API Token`: what Cloudflare said, for a message."""
        said = f"HTTP {self.status}"
        if self.codes:
            said += f", code {self.codes[0]}"
        return f"{said}: {self.message}" if self.message else said


class CloudflareAccount(OwnsItsPool):
    """Read-only calls on the account of the settings, with their token."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        self.account_id, token = settings.require_api_credentials()
        self._token = token.get_secret_value()
        self._base = f"{settings.api_base.rstrip('/')}/client/v4"
        self._timeout = httpx.Timeout(
            ACCOUNT_CALL_TIMEOUT_S, connect=settings.api_connect_timeout_seconds
        )
        self._owns_http = http is None
        self._http = http or guarded_client(_CONNECTIONS)

    def verify_user_token(self) -> ApiAnswer:
        """`GET /user/tokens/verify`: a token made under My Profile (a user's)."""
        return self._get("/user/tokens/verify")

    def verify_account_token(self) -> ApiAnswer:
        """`GET /accounts/{id}/tokens/verify`: a token made under Manage Account (the account's
        own), which the user form does not know."""
        return self._get(f"/accounts/{self.account_id}/tokens/verify")

    def list_gateways(self) -> ApiAnswer:
        """`GET /accounts/{id}/ai-gateway/gateways`, one entry: the account, seen through the AI
        Gateway permission the calls need."""
        return self._get(f"/accounts/{self.account_id}/ai-gateway/gateways?per_page=1")

    def get_gateway(self, gateway_id: str) -> ApiAnswer:
        """`GET /accounts/{id}/ai-gateway/gateways/{gateway_id}`: 404 when there is none."""
        # every character but letters, digits, - and _ percent-encoded, dots too: an id stays one
        # segment of the path (`..` would climb out of it)
        quoted = quote(gateway_id, safe="").replace(".", "%2E")
        return self._get(f"/accounts/{self.account_id}/ai-gateway/gateways/{quoted}")

    def _get(self, path: str) -> ApiAnswer:
        headers = {"Authorization": f"Bearer {self._token}", **IDENTITY}
        expired = f"Cloudflare did not answer within {ACCOUNT_CALL_TIMEOUT_S:g} s"
        try:
            with (
                deadline(ACCOUNT_CALL_TIMEOUT_S, expired),
                self._http.stream(
                    "GET", self._base + path, headers=headers, timeout=self._timeout
                ) as response,
            ):
                body = read_bounded(response, ANSWER_CAP_BYTES)
        except (httpx.TransportError, ProviderTimeout) as exc:
            reason = self._masked(describe_error(exc))
            raise AccountApiUnreachable(
                f"cannot reach Cloudflare at {self._base}: {reason}"
            ) from None
        except UnreadableBody as exc:
            return ApiAnswer(response.status_code, False, message=f"the body {exc}")
        return parse_envelope(response.status_code, self._masked(body.decode("utf-8", "replace")))

    def _masked(self, text: str) -> str:
        return text.replace(self._token, "[token]")


def parse_envelope(status: int, text: str) -> ApiAnswer:
    """The v4 envelope in `text`; a body that is not one (an HTML error page) keeps its status
    and says it was not JSON."""
    try:
        body = json.loads(text)
    except ValueError:
        return ApiAnswer(status, False, message="the answer is not Cloudflare's JSON")
    if not isinstance(body, dict):
        return ApiAnswer(status, False, message="the answer is not Cloudflare's JSON envelope")
    errors = [error for error in body.get("errors") or [] if isinstance(error, dict)]
    codes = tuple(error["code"] for error in errors if isinstance(error.get("code"), int))
    message = str(errors[0].get("message", "")) if errors else ""
    return ApiAnswer(status, body.get("success") is True, codes, message, body.get("result"))
