"""The one call this product pays for: `POST /ai/run` on Cloudflare Workers AI.

The client sends, and turns network failures into ProviderTimeout; what the answer means is
`worker.responses`' job. It is thread-safe (httpx.Client is), so one serves all worker threads.
Tests swap the transport of the httpx.Client they pass in; the client has no test switches.

The answer is a stranger's body like any download: asked for unencoded, read no further than an
image and its JSON envelope can weigh (worker.bounded_body), within one deadline for the whole
call (worker.guarded_network), and an inline image over the size cap is refused here, before the
pipeline records it as `generated`.
"""

from types import TracebackType
from typing import Self

import httpx

from config.settings import Settings
from jobs.errors import BadImage, ProviderTimeout
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.redaction import describe_error
from worker.bounded_body import IDENTITY, UnreadableBody, read_bounded
from worker.guarded_network import deadline, guarded_client
from worker.responses import Generation, parse_response

__all__ = ["CloudflareClient", "Generation"]

GATEWAY_HEADER = "cf-aig-gateway-id"
#: room in an answer beyond its image: the JSON envelope and the messages around it
ENVELOPE_BYTES = 64 * 1024


def answer_cap(max_image_bytes: int) -> int:
    """The most bytes read of an answer: the image as base64 (4 characters per 3 bytes) plus its
    envelope, so an inline image at the size cap still fits."""
    return -(-max_image_bytes // 3) * 4 + ENVELOPE_BYTES


#: connections of a client made without one passed in (a script, a test); a worker passes its own
DEFAULT_CONNECTIONS = 20


class CloudflareClient:
    """Calls the model named in the settings; raises a JobError subclass for every failure."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        account_id, token = settings.require_api_credentials()
        self._token = token.get_secret_value()
        self._url = f"{settings.api_base.rstrip('/')}/client/v4/accounts/{account_id}/ai/run"
        self._model = settings.model
        #: minutes to read (a call takes 10-60 s), seconds to connect (a dead host shows fast)
        self._timeout = httpx.Timeout(
            settings.api_timeout_seconds, connect=settings.api_connect_timeout_seconds
        )
        #: the whole call, however slowly the answer comes
        self._deadline_s = settings.api_timeout_seconds
        self._max_image_bytes = settings.max_image_bytes
        self._owns_http = http is None
        self._http = http or guarded_client(DEFAULT_CONNECTIONS)

    def generate(self, spec: Seedream40Input, *, gateway_id: str | None = None) -> Generation:
        """One image for `spec`, as a URL to fetch or the bytes; a JobError subclass otherwise.

        `gateway_id` names the AI Gateway to go through (the rate limiter picks it, since each
        gateway has its own limit); None = the account's default gateway.
        """
        expired = (
            f"Cloudflare did not answer within {self._deadline_s:g} s "
            "(SEEDREAM_API_TIMEOUT_SECONDS)"
        )
        with deadline(self._deadline_s, expired):
            generation = self._call(spec, gateway_id)
        if generation.data is not None and len(generation.data) > self._max_image_bytes:
            raise BadImage(
                f"the inline image is over {self._max_image_bytes} bytes "
                f"({len(generation.data)}; SEEDREAM_MAX_IMAGE_BYTES)"
            )
        return generation

    def _call(self, spec: Seedream40Input, gateway_id: str | None) -> Generation:
        headers = {"Authorization": f"Bearer {self._token}", **IDENTITY}
        if gateway_id:
            headers[GATEWAY_HEADER] = gateway_id
        try:
            with self._http.stream(
                "POST",
                self._url,
                json={"model": self._model, "input": spec.payload()},
                headers=headers,
                timeout=self._timeout,
                follow_redirects=False,
            ) as response:
                body = self._read_answer(response)
        except httpx.TransportError as exc:
            raise ProviderTimeout(f"calling Cloudflare failed: {describe_error(exc)}") from None
        return parse_response(
            response.status_code,
            response.headers.get("content-type", ""),
            self._redacted(body),
            response.headers,
        )

    def _read_answer(self, response: httpx.Response) -> bytes:
        """The answer's body, within `answer_cap`. A success too big or encoded is a BadImage (its
        image cannot be had; calling again could pay twice); a failure's unreadable body is left
        out, and its status still says what went wrong."""
        try:
            return read_bounded(response, answer_cap(self._max_image_bytes))
        except UnreadableBody as exc:
            if response.is_success:
                raise BadImage(f"Cloudflare's answer {exc}") from None
            return f"(the body {exc})".encode()

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
