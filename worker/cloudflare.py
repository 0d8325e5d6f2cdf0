"""The one call this product pays for: `POST /ai/run` on Cloudflare Workers AI.

The client sends, and turns network failures into ProviderTimeout; what the answer means is
`worker.responses`' job. It is thread-safe (httpx.Client is), so one serves all worker threads.
Tests swap the transport of the httpx.Client they pass in; the client has no test switches.
"""

from types import TracebackType
from typing import Self

import httpx

from config.settings import Settings
from jobs.errors import ProviderTimeout
from jobs.redaction import describe_error
from jobs.spec import ImageInput
from worker.responses import Generation, parse_response

__all__ = ["CloudflareClient", "Generation"]

GATEWAY_HEADER = "cf-aig-gateway-id"


class CloudflareClient:
    """Calls the model named in the settings; raises a JobError subclass for every failure."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        account_id, token = settings.require_api_credentials()
        self._token = token.get_secret_value()
        self._url = f"{settings.api_base.rstrip('/')}/client/v4/accounts/{account_id}/ai/run"
        self._model = settings.model
        #: minutes to read (a call takes 10-60 s), seconds to connect (a dead host shows fast)
        self._timeout = httpx.Timeout(settings.api_timeout, connect=settings.api_connect_timeout)
        self._owns_http = http is None
        self._http = http or httpx.Client(timeout=self._timeout, follow_redirects=False)

    def generate(self, spec: ImageInput, *, gateway_id: str | None = None) -> Generation:
        """One image for `spec`, as a URL to fetch or the bytes; a JobError subclass otherwise.

        `gateway_id` names the AI Gateway to go through (the rate limiter picks it, since each
        gateway has its own limit); None = the account's default gateway.
        """
        headers = {"Authorization": f"Bearer {self._token}"}
        if gateway_id:
            headers[GATEWAY_HEADER] = gateway_id
        try:
            response = self._http.post(
                self._url,
                json={"model": self._model, "input": spec.payload()},
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            )
        except httpx.TransportError as exc:
            raise ProviderTimeout(f"calling Cloudflare failed: {describe_error(exc)}") from None
        return parse_response(
            response.status_code,
            response.headers.get("content-type", ""),
            self._redacted(response.content),
            response.headers,
        )

    def close(self) -> None:
        """Close the connection pool if this client made it (a pool passed in is the caller's)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _redacted(self, body: bytes) -> bytes:
        """The body with the token masked, should the answer echo the request back.

        Done before parsing, so no error message can carry the token, not even cut in half.
        """
        return body.replace(self._token.encode(), b"[token]")
