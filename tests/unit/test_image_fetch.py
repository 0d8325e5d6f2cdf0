"""worker.image_fetch: a download bounded in size, time and redirects, that says why it failed,
streamed into a spool. (Its deadline and address policy live in the guarded network under the
client: tests/unit/test_guarded_downloads.py tests them on real sockets.)"""

import io
from collections.abc import Iterator

import httpx
import pytest

from jobs.errors import BadImage, JobError, ProviderTimeout, ServerError
from tests.support.http import NETWORK_FAILURES, Handler, Recorder
from tests.support.images import image_bytes
from worker.image_fetch import fetch_image
from worker.spool import open_spool

URL = "https://ark.example/seedream-4-0/abc_0.jpeg?X-Tos-Signature=s3cr3t"
#: the spool's memory threshold in these tests: bodies near the 10,000-byte limit go to disk
SPOOL_MEMORY_BYTES = 4096


def fetch(respond: Handler, *, timeout: float = 5.0) -> tuple[bytes, Recorder]:
    """fetch_image of URL into a spool, with a 10,000-byte limit, from a host that answers with
    `respond`; returns what the spool holds."""
    recorder = Recorder(respond)
    http = httpx.Client(transport=httpx.MockTransport(recorder))
    with open_spool(SPOOL_MEMORY_BYTES) as spool:
        length = fetch_image(http, URL, spool, max_bytes=10_000, timeout=timeout)
        spool.seek(0)
        data = spool.read()
    assert length == len(data)
    return data, recorder


def refused(respond: Handler, *, timeout: float = 5.0) -> JobError:
    with pytest.raises(JobError) as raised:
        fetch(respond, timeout=timeout)
    return raised.value


def test_the_image_bytes_are_returned() -> None:
    data, recorder = fetch(lambda _: httpx.Response(200, content=image_bytes("JPEG", (64, 48))))

    assert data == image_bytes("JPEG", (64, 48))
    assert str(recorder.requests[0].url) == URL


def test_the_timeout_applies_to_the_request() -> None:
    _, recorder = fetch(lambda _: httpx.Response(200, content=b"x"), timeout=12.0)

    assert recorder.requests[0].extensions["timeout"]["read"] == 12.0


def test_a_non_image_body_is_returned_for_the_caller_to_judge() -> None:
    html = b"<html>expired</html>"

    data, _ = fetch(
        lambda _: httpx.Response(200, content=html, headers={"content-type": "text/html"})
    )

    assert data == html


def test_a_declared_length_over_the_limit_is_refused_before_reading() -> None:
    def never_read() -> Iterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    def big(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": "10001"}, content=never_read())

    error = refused(big)

    assert isinstance(error, BadImage)
    assert error.message == "image is over 10000 bytes (Content-Length 10001)"


def test_a_body_without_length_is_cut_off_once_over_the_limit() -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        for index in range(100):
            sent.append(index)
            yield b"x" * 1000

    error = refused(lambda _: httpx.Response(200, content=chunks()))

    assert isinstance(error, BadImage)
    assert error.message == "image is over 10000 bytes"
    assert len(sent) == 11


def test_a_body_longer_than_its_declared_length_is_still_cut_off_at_the_limit() -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"x" * 1000

    def lying(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-length": "500"}, content=chunks())

    error = refused(lying)

    assert isinstance(error, BadImage)
    assert error.message == "image is over 10000 bytes"


def test_a_body_exactly_at_the_limit_is_accepted() -> None:
    data, _ = fetch(lambda _: httpx.Response(200, content=b"x" * 10_000))

    assert len(data) == 10_000


def test_a_body_over_the_memory_threshold_is_spooled_whole_to_a_temp_file() -> None:
    body = bytes(range(256)) * 30
    http = httpx.Client(transport=httpx.MockTransport(lambda _: httpx.Response(200, content=body)))

    with open_spool(SPOOL_MEMORY_BYTES) as spool:
        fetch_image(http, URL, spool, max_bytes=10_000, timeout=5)
        assert spool._rolled  # type: ignore[attr-defined]  # moved out of memory
        spool.seek(0)
        assert spool.read() == body


def test_the_body_is_asked_for_unencoded() -> None:
    _, recorder = fetch(lambda _: httpx.Response(200, content=b"x"))

    assert recorder.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip", "br", "deflate"])
def test_an_encoded_body_is_refused_unread(encoding: str) -> None:
    def never_read() -> Iterator[bytes]:
        raise AssertionError("the body was read")
        yield b""

    def encoded(_: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-encoding": encoding}, content=never_read())

    error = refused(encoded)

    assert isinstance(error, BadImage)
    assert error.message == (
        f"image is sent with Content-Encoding {encoding!r} though none was asked for"
    )


def redirect_to(location: str) -> httpx.Response:
    return httpx.Response(302, headers={"location": location})


def hops(count: int) -> Handler:
    """Redirects `count` times, then answers with the image."""

    def respond(request: httpx.Request) -> httpx.Response:
        hop = int(request.url.params.get("hop", "0"))
        if hop < count:
            return redirect_to(f"/next?hop={hop + 1}")
        return httpx.Response(200, content=image_bytes("JPEG", (64, 48)))

    return respond


def test_up_to_max_redirects_are_followed() -> None:
    data, recorder = fetch(hops(3))

    assert data == image_bytes("JPEG", (64, 48))
    assert [str(request.url) for request in recorder.requests][
        -1
    ] == "https://ark.example/next?hop=3"


def test_more_redirects_than_allowed_are_refused() -> None:
    error = refused(hops(4))

    assert isinstance(error, BadImage)
    assert "redirected more than 3 times" in error.message


@pytest.mark.parametrize(
    "url",
    [
        "ftp://ark.example/a.jpeg",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "not a url",
        "http://",
    ],
)
def test_only_http_urls_are_fetched(url: str) -> None:
    recorder = Recorder(lambda _: httpx.Response(200, content=b"x"))

    with pytest.raises(BadImage, match="image URL"):
        fetch_image(
            httpx.Client(transport=httpx.MockTransport(recorder)),
            url,
            io.BytesIO(),
            max_bytes=10,
            timeout=1,
        )

    assert recorder.requests == []


def test_a_redirect_to_another_scheme_is_refused() -> None:
    error = refused(lambda _: redirect_to("file:///etc/passwd"))

    assert isinstance(error, BadImage)
    assert "http(s)" in error.message


@pytest.mark.parametrize(
    "location",
    [
        "ftp://ark.example/a.jpeg",
        "data:image/jpeg;base64,/9j/",
        "javascript:alert(1)",
        "gopher://x",
    ],
)
def test_a_redirect_to_any_non_http_scheme_is_refused_without_following_it(location: str) -> None:
    recorder = Recorder(lambda _: redirect_to(location))
    http = httpx.Client(transport=httpx.MockTransport(recorder))

    with pytest.raises(BadImage, match="image URL"), open_spool(SPOOL_MEMORY_BYTES) as spool:
        fetch_image(http, URL, spool, max_bytes=10_000, timeout=5)

    assert len(recorder.requests) == 1


def test_a_redirect_loop_is_refused_after_the_limit() -> None:
    recorder = Recorder(lambda request: redirect_to(str(request.url)))
    http = httpx.Client(transport=httpx.MockTransport(recorder))

    with pytest.raises(BadImage, match="redirected more than 3 times"):
        fetch_image(http, URL, io.BytesIO(), max_bytes=10_000, timeout=5)

    assert len(recorder.requests) == 4


@pytest.mark.parametrize("failure", NETWORK_FAILURES)
def test_network_failures_are_timeouts(failure: type[httpx.TransportError]) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise failure("connection reset by peer", request=request)

    assert isinstance(refused(fail), ProviderTimeout)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_trouble_is_transient(status: int) -> None:
    assert isinstance(refused(lambda _: httpx.Response(status)), ServerError)


@pytest.mark.parametrize("status", [403, 404, 410])
def test_a_refused_link_is_a_bad_image_that_may_have_expired(status: int) -> None:
    error = refused(lambda _: httpx.Response(status, text="AccessDenied"))

    assert isinstance(error, BadImage)
    assert f"answered HTTP {status}" in error.message
    assert "may have expired" in error.message


@pytest.mark.parametrize("status", [408, 429])
def test_an_image_host_asking_to_wait_is_transient(status: int) -> None:
    assert isinstance(refused(lambda _: httpx.Response(status)), ServerError)


def test_the_link_signature_is_kept_out_of_messages() -> None:
    error = refused(lambda _: httpx.Response(403))

    assert "s3cr3t" not in error.message
    assert "ark.example/seedream-4-0/abc_0.jpeg" in error.message
