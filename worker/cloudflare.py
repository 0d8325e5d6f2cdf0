"""The one call this product pays for: `POST /ai/run` on Cloudflare Workers AI.

The client sends the call for the batch's model, and turns network failures into
ProviderTimeout; what the answer means is `worker.responses`' job. Every call tells AI Gateway
which batch and job it is for (`cf-aig-metadata`, so the gateway's logs and spend analytics tie
back to jobs), not to answer from its cache (`cf-aig-skip-cache`: identical rows would get one
cached answer whose signed image link dies within a day; reusing images is the product's own
business) and not to retry on its own (`cf-aig-max-attempts: 1`: a retry behind the client's
back could pay twice; the client owns retries). It is thread-safe (httpx.Client is), so one
serves all worker threads. Tests swap the transport of the httpx.Client they pass in; the client
has no test switches.

The answer is a stranger's body like any download: asked for unencoded, read no further than an
image and its JSON envelope can weigh (worker.bounded_body), within one deadline for the whole
call (worker.guarded_network), and an inline image over the size cap is refused here, before the
pipeline records it as `generated`.
"""

import json
from collections.abc import Mapping
from typing import Any

import httpx

from config.settings import Settings
from jobs.errors import BadImage, ProviderTimeout
from jobs.gateway_headers import (
    GATEWAY_HEADER,
    MAX_ATTEMPTS_HEADER,
    MAX_METADATA_ENTRIES,
    METADATA_HEADER,
    SKIP_CACHE_HEADER,
)
from jobs.models import ModelAdapter, ModelInput
from jobs.redaction import describe_error
from worker.bounded_body import IDENTITY, UnreadableBody, read_bounded
from worker.guarded_network import deadline, guarded_client
from worker.owned_pool import OwnsItsPool
from worker.responses import Generation, ProviderImage, parse_response

__all__ = ["CallMetadata", "CloudflareClient", "Generation", "ProviderImage"]

#: sent with every call (see the module's docstring for why)
CALL_HEADERS = {SKIP_CACHE_HEADER: "true", MAX_ATTEMPTS_HEADER: "1"}
#: room in an answer beyond its image: the JSON envelope and the messages around it
ENVELOPE_BYTES = 64 * 1024


def answer_cap(max_image_bytes: int) -> int:
    """The most bytes read of an answer: the image as base64 (4 characters per 3 bytes) plus its
    envelope, so an inline image at the size cap still fits."""
    return -(-max_image_bytes // 3) * 4 + ENVELOPE_BYTES


#: connections of a client made without one passed in (a script, a test); a worker passes its own
DEFAULT_CONNECTIONS = 20


#: what `cf-aig-metadata` carries: short strings, numbers or booleans by name
CallMetadata = Mapping[str, str | int | bool]


class CloudflareClient(OwnsItsPool):
    """Calls a model for one job; raises a JobError subclass for every failure."""

    def __init__(self, settings: Settings, http: httpx.Client | None = None) -> None:
        account_id, token = settings.require_api_credentials()
        self._token = token.get_secret_value()
        self._url = f"{settings.api_base.rstrip('/')}/client/v4/accounts/{account_id}/ai/run"
        #: minutes to read (a call takes 10-60 s), seconds to connect (a dead host shows fast)
        self._timeout = httpx.Timeout(
            settings.api_timeout_seconds, connect=settings.api_connect_timeout_seconds
        )
        #: the whole call, however slowly the answer comes
        self._deadline_s = settings.api_timeout_seconds
        self._max_image_bytes = settings.max_image_bytes
        self._owns_http = http is None
        self._http = http or guarded_client(DEFAULT_CONNECTIONS)

    def generate(
        self,
        model: ModelAdapter,
        spec: ModelInput,
        *,
        gateway_id: str | None = None,
        metadata: CallMetadata | None = None,
    ) -> Generation:
        """The images `model` generates for `spec`, as URLs to fetch or bytes; a JobError
        subclass otherwise.

        `gateway_id` names the AI Gateway to go through (the rate limiter picks it, since each
        gateway has its own limit); None = the account's default gateway. `metadata` (at most
        MAX_METADATA_ENTRIES) is what the gateway logs with the call.
        """
        expired = (
            f"Cloudflare did not answer within {self._deadline_s:g} s "
            "(SEEDREAM_API_TIMEOUT_SECONDS)"
        )
        headers = {"Authorization": f"Bearer {self._token}", **IDENTITY, **CALL_HEADERS}
        if gateway_id:
            headers[GATEWAY_HEADER] = gateway_id
        if metadata:
            if len(metadata) > MAX_METADATA_ENTRIES:
                raise ValueError(
                    f"AI Gateway keeps at most {MAX_METADATA_ENTRIES} metadata entries"
                )
            headers[METADATA_HEADER] = json.dumps(dict(metadata), separators=(",", ":"))
        with deadline(self._deadline_s, expired):
            generation = self._call(model, {"model": model.name, "input": spec.payload()}, headers)
        for image in generation.images:
            if image.data is not None and len(image.data) > self._max_image_bytes:
                raise BadImage(
                    f"the inline image is over {self._max_image_bytes} bytes "
                    f"({len(image.data)}; SEEDREAM_MAX_IMAGE_BYTES)"
                )
        return generation

    def _call(
        self, model: ModelAdapter, call: dict[str, Any], headers: dict[str, str]
    ) -> Generation:
        try:
            with self._http.stream(
                "POST",
                self._url,
                json=call,
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
            model,
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

    def _redacted(self, body: bytes) -> bytes:
        """The body with the token masked, should the answer echo the request back.

        Done before parsing, so no error message can carry the token, not even cut in half.
        """
        return body.replace(self._token.encode(), b"[token]")
