"""Downloads through the worker's guarded client, from hostile servers on 127.0.0.1.

Names are resolved by a test table (a metadata endpoint, a private host), so the address policy
is tested on the addresses it would meet; the network under the client reaches 127.0.0.0/8 only
(tests.support.raw_http.LoopbackOnlyNetwork), so a policy that failed could not send anything out.
"""

import socket
import time
import tracemalloc

import httpx
import pytest

from jobs.errors import BadImage, JobError, ProviderTimeout
from tests.support.images import image_bytes
from tests.support.raw_http import (
    LoopbackOnlyNetwork,
    RawHttpServer,
    Script,
    answer,
    drips,
    gzip_bomb,
    sends,
)
from worker.address_policy import AddressPolicy
from worker.guarded_network import guarded_client
from worker.image_fetch import fetch_image
from worker.spool import open_spool

JPEG = image_bytes("JPEG", (64, 48))
MAX_BYTES = 1024 * 1024
PUBLIC_API = "https://api.cloudflare.com"
LOCAL_API = "http://127.0.0.1:8787"
SIGNED = "?X-Amz-Signature=s3cr3t"
#: what the test resolver answers for each name; literal addresses stand for themselves
RESOLVED = {
    "api.cloudflare.com": ["104.16.0.1"],
    "images.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "intranet.example": ["10.0.0.1"],
    "loopback.example": ["127.0.0.1"],
    "mixed.example": ["104.16.0.2", "10.0.0.1"],
}


def resolve(host: str, port: int) -> list[str]:
    return RESOLVED.get(host, [host])


@pytest.fixture
def network() -> LoopbackOnlyNetwork:
    return LoopbackOnlyNetwork()


def client_for(network: LoopbackOnlyNetwork, api_base: str) -> httpx.Client:
    """The guarded download client a worker whose API is at `api_base` makes."""
    policy = AddressPolicy.for_api_base(api_base, resolve, allow_all=False)
    return guarded_client(4, policy, resolve, network)


def download(http: httpx.Client, url: str, *, timeout: float = 5.0) -> bytes:
    with open_spool(64 * 1024) as spool:
        fetch_image(http, url, spool, max_bytes=MAX_BYTES, timeout=timeout)
        spool.seek(0)
        return spool.read()


def serving(script: Script) -> RawHttpServer:
    return RawHttpServer(script)


def jpeg_answer() -> bytes:
    return answer("200 OK", {"Content-Type": "image/jpeg"}, JPEG)


# SSRF: line 5


@pytest.mark.parametrize(
    ("host", "address_class"),
    [
        ("metadata.example", "link-local"),
        ("intranet.example", "private"),
        ("loopback.example", "loopback"),
        ("169.254.169.254", "link-local"),
        ("mixed.example", "private"),
    ],
)
def test_a_host_on_a_non_public_address_is_refused_before_any_connect(
    network: LoopbackOnlyNetwork, host: str, address_class: str
) -> None:
    with pytest.raises(BadImage) as refused:
        download(client_for(network, PUBLIC_API), f"http://{host}/latest/meta-data{SIGNED}")

    assert f"{host} resolves to" in refused.value.message
    assert f"a {address_class} address" in refused.value.message
    assert "SEEDREAM_FETCH_ALLOW_PRIVATE" in refused.value.message
    assert "s3cr3t" not in refused.value.message
    assert network.connected == []


def test_a_loopback_api_base_allows_images_from_loopback(network: LoopbackOnlyNetwork) -> None:
    with serving(sends(jpeg_answer())) as server:
        data = download(client_for(network, LOCAL_API), f"http://images.example:{server.port}/a")

    assert data == JPEG
    assert network.connected == ["127.0.0.1"]


def test_a_redirect_from_an_allowed_host_to_a_refused_one_is_refused(
    network: LoopbackOnlyNetwork,
) -> None:
    hop = answer("302 Found", {"Location": "http://metadata.example/latest/meta-data"})
    with serving(sends(hop)) as server, pytest.raises(BadImage) as refused:
        download(client_for(network, LOCAL_API), f"http://images.example:{server.port}/a")

    assert "metadata.example resolves to 169.254.169.254, a link-local address" in (
        refused.value.message
    )
    assert network.connected == ["127.0.0.1"]


# Decompression bombs: line 6


def test_downloads_ask_for_an_unencoded_body(network: LoopbackOnlyNetwork) -> None:
    with serving(sends(jpeg_answer())) as server:
        download(client_for(network, LOCAL_API), f"{server.url}/a.jpeg")

    assert server.header("accept-encoding") == ["identity"]


def test_a_double_gzip_bomb_is_refused_without_being_inflated(
    network: LoopbackOnlyNetwork,
) -> None:
    bomb = gzip_bomb(64 * 1024 * 1024)
    encoded = answer(
        "200 OK", {"Content-Type": "image/jpeg", "Content-Encoding": "gzip, gzip"}, bomb
    )
    written: list[int] = []

    class CountingSpool:
        def write(self, data: bytes) -> int:
            written.append(len(data))
            return len(data)

    with serving(sends(encoded)) as server:
        tracemalloc.start()
        try:
            with pytest.raises(BadImage) as refused:
                fetch_image(
                    client_for(network, LOCAL_API),
                    f"{server.url}/a.jpeg",
                    CountingSpool(),  # type: ignore[arg-type]
                    max_bytes=MAX_BYTES,
                    timeout=5,
                )
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert len(bomb) < 100_000
    assert "Content-Encoding 'gzip, gzip'" in refused.value.message
    assert sum(written) == 0
    assert peak < 8 * 1024 * 1024, f"{peak} bytes allocated for a {len(bomb)}-byte body"


# Drips: line 7


def timed_refusal(http: httpx.Client, url: str, timeout: float) -> tuple[JobError, float]:
    started = time.monotonic()
    with pytest.raises(JobError) as refused:
        download(http, url, timeout=timeout)
    return refused.value, time.monotonic() - started


def test_a_host_dripping_its_headers_is_cut_off_at_the_deadline(
    network: LoopbackOnlyNetwork,
) -> None:
    with serving(drips(jpeg_answer(), every_s=0.2)) as server:
        error, took = timed_refusal(client_for(network, LOCAL_API), f"{server.url}/a.jpeg", 1.0)

    assert isinstance(error, ProviderTimeout)
    assert error.message == "image download took over 1 s"
    assert took < 1.5


def test_a_host_dripping_its_body_is_cut_off_at_the_deadline(
    network: LoopbackOnlyNetwork,
) -> None:
    head = answer("200 OK", {"Content-Type": "image/jpeg", "Content-Length": str(len(JPEG))})

    def script(sock: socket.socket) -> None:
        sends(head)(sock)
        drips(JPEG, every_s=0.05)(sock)

    with serving(script) as server:
        error, took = timed_refusal(client_for(network, LOCAL_API), f"{server.url}/a.jpeg", 0.6)

    assert isinstance(error, ProviderTimeout)
    assert error.message == "image download took over 0.6 s"
    assert took < 1.1


def test_a_silent_host_is_cut_off_at_the_deadline_not_the_read_timeout(
    network: LoopbackOnlyNetwork,
) -> None:
    def silent(_: socket.socket) -> None:
        time.sleep(3)

    with serving(silent) as server:
        error, took = timed_refusal(client_for(network, LOCAL_API), f"{server.url}/a.jpeg", 0.5)

    assert isinstance(error, ProviderTimeout)
    assert took < 1.0
