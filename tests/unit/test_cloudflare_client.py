"""worker.cloudflare: the request it sends and what it raises, through an httpx.MockTransport."""

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from config.settings import MissingSetting, Settings
from jobs.errors import (
    AuthError,
    BadImage,
    JobError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    ServerError,
)
from jobs.models import DEFAULT_MODEL, ModelAdapter
from jobs.models.input_rules import AspectRatio
from jobs.models.seedream_4_0 import Seedream40Input, Size
from tests.support.generations import SEEDREAM_40, from_bytes, from_url
from tests.support.http import NETWORK_FAILURES, Handler, Recorder
from tests.support.images import image_bytes
from tests.support.models import SeveralInput
from tests.support.raw_http import RawHttpServer, answer, drips
from worker.cloudflare import CloudflareClient, answer_cap

TOKEN = "cf-secret-token-0123456789"
ACCOUNT = "acc0123"
IMAGE_URL = "https://ark.example/seedream-4-0/abc_0.jpeg"
SPEC = Seedream40Input(
    prompt="a lighthouse at dusk", size=Size.two_k, aspect_ratio=AspectRatio.widescreen_16_9
)


def make_settings(
    *,
    api_token: str | None = TOKEN,
    account_id: str | None = ACCOUNT,
    **changes: Any,
) -> Settings:
    """Settings that name everything the client reads, so the environment cannot leak in."""
    return Settings(
        api_token=SecretStr(api_token) if api_token else None,
        account_id=account_id,
        **{
            "api_base": "https://cf.test/",
            "model": DEFAULT_MODEL,
            "api_timeout_seconds": 240.0,
            "api_connect_timeout_seconds": 7.0,
            "max_image_bytes": 50 * 1024 * 1024,
            **changes,
        },
    )


def client_for(respond: Handler, **settings: Any) -> tuple[CloudflareClient, Recorder]:
    recorder = Recorder(respond)
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    return CloudflareClient(make_settings(**settings), http), recorder


def completed(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"state": "Completed", "result": {"image": IMAGE_URL}})


def test_it_posts_the_model_and_input_to_the_account_run_url() -> None:
    client, recorder = client_for(completed)

    assert client.generate(SEEDREAM_40, SPEC) == from_url(IMAGE_URL)

    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == f"https://cf.test/client/v4/accounts/{ACCOUNT}/ai/run"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "model": "bytedance/seedream-4.0",
        "input": {"prompt": "a lighthouse at dusk", "size": "2K", "aspect_ratio": "16:9"},
    }


def test_the_model_sent_is_the_one_called_not_the_settings(
    several_images_model: ModelAdapter,
) -> None:
    client, recorder = client_for(completed)

    client.generate(several_images_model, SeveralInput(prompt="a fox", count=2))

    assert json.loads(recorder.requests[0].content) == {
        "model": several_images_model.name,
        "input": {"prompt": "a fox", "count": 2},
    }


def test_the_gateway_is_told_not_to_cache_nor_retry_the_call() -> None:
    client, recorder = client_for(completed)

    client.generate(SEEDREAM_40, SPEC)

    headers = recorder.requests[0].headers
    assert headers["cf-aig-skip-cache"] == "true"
    assert headers["cf-aig-max-attempts"] == "1"


def test_the_calls_metadata_goes_to_the_gateway_as_json() -> None:
    client, recorder = client_for(completed)

    client.generate(SEEDREAM_40, SPEC, metadata={"batch": "b-1", "key": "hero/1", "job": 7})

    sent = json.loads(recorder.requests[0].headers["cf-aig-metadata"])
    assert sent == {"batch": "b-1", "key": "hero/1", "job": 7}


def test_no_metadata_header_is_sent_without_metadata() -> None:
    client, recorder = client_for(completed)

    client.generate(SEEDREAM_40, SPEC)

    assert "cf-aig-metadata" not in recorder.requests[0].headers


def test_more_metadata_than_the_gateway_keeps_is_refused_before_the_call() -> None:
    client, recorder = client_for(completed)

    with pytest.raises(ValueError, match="at most 5 metadata entries"):
        client.generate(SEEDREAM_40, SPEC, metadata={str(n): n for n in range(6)})

    assert recorder.requests == []


def test_the_answers_gateway_log_id_is_returned() -> None:
    def logged(_: httpx.Request) -> httpx.Response:
        headers = {"cf-aig-log-id": "01J9LOG", "cf-aig-request-id": "req-42"}
        body = {"state": "Completed", "result": {"image": IMAGE_URL}}
        return httpx.Response(200, json=body, headers=headers)

    client, _ = client_for(logged)

    generation = client.generate(SEEDREAM_40, SPEC)

    assert (generation.log_id, generation.request_id) == ("01J9LOG", "req-42")


def test_no_gateway_header_is_sent_unless_the_call_names_one() -> None:
    client, recorder = client_for(completed)

    client.generate(SEEDREAM_40, SPEC)

    assert "cf-aig-gateway-id" not in recorder.requests[0].headers


def test_the_gateway_named_on_the_call_is_sent() -> None:
    client, recorder = client_for(completed)

    client.generate(SEEDREAM_40, SPEC, gateway_id="spare-gw")

    assert recorder.requests[0].headers["cf-aig-gateway-id"] == "spare-gw"


def test_the_call_reads_with_the_configured_timeouts() -> None:
    client, recorder = client_for(completed)

    client.generate(SEEDREAM_40, SPEC)

    timeout = recorder.requests[0].extensions["timeout"]
    assert (timeout["connect"], timeout["read"]) == (7.0, 240.0)


def test_a_raw_png_answer_gives_the_bytes() -> None:
    png = image_bytes("PNG", (8, 8))
    client, _ = client_for(
        lambda _: httpx.Response(200, content=png, headers={"content-type": "image/png"})
    )

    assert client.generate(SEEDREAM_40, SPEC) == from_bytes(png)


def test_a_redirect_is_not_followed() -> None:
    client, recorder = client_for(
        lambda _: httpx.Response(302, headers={"location": "https://elsewhere.test/"})
    )

    with pytest.raises(ServerError, match="HTTP 302"):
        client.generate(SEEDREAM_40, SPEC)

    assert len(recorder.requests) == 1


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (
            httpx.Response(
                429, json={"success": False, "errors": [{"code": 3040, "message": "busy"}]}
            ),
            RateLimited,
        ),
        (
            httpx.Response(
                429, json={"error": {"code": "internal_error", "message": "4006: daily allocation"}}
            ),
            QuotaExceeded,
        ),
        (
            httpx.Response(
                401,
                json={"name": "AiGatewayError", "internalCode": 2009, "message": "Unauthorized"},
            ),
            AuthError,
        ),
        (
            httpx.Response(
                200,
                json={
                    "state": "Failed",
                    "error": {"code": "provider_unavailable", "message": "down"},
                },
            ),
            ServerError,
        ),
    ],
)
def test_failures_are_raised_as_their_class(
    response: httpx.Response, expected: type[JobError]
) -> None:
    client, _ = client_for(lambda _: response)

    with pytest.raises(expected):
        client.generate(SEEDREAM_40, SPEC)


def test_retry_after_is_passed_on() -> None:
    client, _ = client_for(lambda _: httpx.Response(429, headers={"Retry-After": "42"}, json={}))

    with pytest.raises(RateLimited) as raised:
        client.generate(SEEDREAM_40, SPEC)

    assert raised.value.retry_after == 42.0


@pytest.mark.parametrize("failure", NETWORK_FAILURES)
def test_network_failures_are_timeouts(failure: type[httpx.TransportError]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure("connection reset by peer", request=request)

    client, _ = client_for(fail)

    with pytest.raises(ProviderTimeout, match="calling Cloudflare failed") as raised:
        client.generate(SEEDREAM_40, SPEC)

    assert TOKEN not in raised.value.message


def test_the_token_never_appears_in_an_error_even_when_echoed_back() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        echoed = f"bad credentials {request.headers['authorization']} in {dict(request.headers)}"
        return httpx.Response(403, json={"errors": [{"code": 3023, "message": echoed * 20}]})

    client, _ = client_for(echo)

    with pytest.raises(AuthError) as raised:
        client.generate(SEEDREAM_40, SPEC)

    assert TOKEN not in raised.value.message
    assert TOKEN not in str(raised.value)
    assert raised.value.message.startswith("HTTP 403 code 3023: bad credentials Bearer [token]")


def test_a_missing_token_is_refused_with_what_to_do() -> None:
    with pytest.raises(MissingSetting, match="CLOUDFLARE_API_TOKEN"):
        CloudflareClient(make_settings(api_token=None))


def test_a_missing_account_is_refused_with_what_to_do() -> None:
    with pytest.raises(MissingSetting, match="CLOUDFLARE_ACCOUNT_ID"):
        CloudflareClient(make_settings(account_id=None))


def test_closing_leaves_a_pool_that_was_passed_in_open() -> None:
    http = httpx.Client(transport=httpx.MockTransport(completed))

    with CloudflareClient(make_settings(), http) as client:
        client.generate(SEEDREAM_40, SPEC)

    assert not http.is_closed


def test_the_answer_is_asked_for_unencoded() -> None:
    client, recorder = client_for(completed)

    client.generate(SEEDREAM_40, SPEC)

    assert recorder.requests[0].headers["accept-encoding"] == "identity"


def test_an_encoded_answer_is_refused_unread() -> None:
    client, _ = client_for(
        lambda _: httpx.Response(200, headers={"content-encoding": "gzip, gzip"}, content=b"\x1f")
    )

    with pytest.raises(BadImage, match="Content-Encoding 'gzip, gzip'"):
        client.generate(SEEDREAM_40, SPEC)


#: the size cap in the inline-image tests
CAP = 10_000


def png_of(size: int) -> bytes:
    """A PNG padded to `size` bytes (the cap is checked before anything looks at the pixels)."""
    png = image_bytes("PNG", (8, 8))
    return png + b"\0" * (size - len(png))


def test_a_raw_image_answer_over_the_cap_is_refused() -> None:
    client, _ = client_for(
        lambda _: httpx.Response(
            200, content=png_of(CAP + 1), headers={"content-type": "image/png"}
        ),
        max_image_bytes=CAP,
    )

    with pytest.raises(BadImage, match=f"the inline image is over {CAP} bytes"):
        client.generate(SEEDREAM_40, SPEC)


def test_a_raw_image_answer_at_the_cap_is_accepted() -> None:
    png = png_of(CAP)
    client, _ = client_for(
        lambda _: httpx.Response(200, content=png, headers={"content-type": "image/png"}),
        max_image_bytes=CAP,
    )

    assert client.generate(SEEDREAM_40, SPEC) == from_bytes(png)


def test_a_base64_image_over_the_cap_is_refused() -> None:
    encoded = base64.b64encode(png_of(CAP + 1)).decode()
    client, _ = client_for(
        lambda _: httpx.Response(200, json={"result": {"image": encoded}}), max_image_bytes=CAP
    )

    with pytest.raises(BadImage, match=f"the inline image is over {CAP} bytes"):
        client.generate(SEEDREAM_40, SPEC)


def test_an_answer_longer_than_an_image_and_its_envelope_is_cut_off_unread() -> None:
    sent: list[int] = []

    def endless() -> Iterator[bytes]:
        for index in range(10_000):
            sent.append(index)
            yield b"\0" * 1000

    client, _ = client_for(
        lambda _: httpx.Response(200, content=endless(), headers={"content-type": "image/png"}),
        max_image_bytes=CAP,
    )

    with pytest.raises(BadImage, match=f"Cloudflare's answer is over {answer_cap(CAP)} bytes"):
        client.generate(SEEDREAM_40, SPEC)

    assert len(sent) == answer_cap(CAP) // 1000 + 1


def test_a_failure_with_a_body_over_the_cap_keeps_its_class() -> None:
    client, _ = client_for(
        lambda _: httpx.Response(503, content=b"<html>" * 100_000), max_image_bytes=CAP
    )

    with pytest.raises(ServerError, match="HTTP 503"):
        client.generate(SEEDREAM_40, SPEC)


def test_an_api_dripping_its_headers_is_cut_off_at_the_deadline() -> None:
    head = answer("200 OK", {"Content-Type": "application/json"}, b'{"result": {}}')
    with RawHttpServer(drips(head, every_s=0.2)) as server:
        client = CloudflareClient(make_settings(api_base=server.url, api_timeout_seconds=1.0))
        started = time.monotonic()
        with pytest.raises(ProviderTimeout) as refused:
            client.generate(SEEDREAM_40, SPEC)
        took = time.monotonic() - started
        client.close()

    assert refused.value.message == (
        "Cloudflare did not answer within 1 s (SEEDREAM_API_TIMEOUT_SECONDS)"
    )
    assert took < 1.5
