"""A real emulator process for the tests, and a client that talks to it over HTTP.

One process serves the whole session (starting one costs about a second); each test begins from
the default configuration with zeroed counters, so tests do not see each other's settings.
"""

import io
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
from PIL import Image

from emulator import EmulatorConfig
from jobs.models import DEFAULT_MODEL

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "acct"
TOKEN = "tok"
#: the emulator's default configuration, which every test starts from
DEFAULTS = EmulatorConfig().public()

#: the fixtures' types, for the tests' parameters (a test names the fixture it takes)
StartEmulator = Callable[..., AbstractContextManager[str]]
Configure = Callable[..., dict[str, Any]]
CallModel = Callable[..., httpx.Response]
Stats = Callable[[], dict[str, Any]]
OpenJpeg = Callable[[bytes], Image.Image]
FetchImage = Callable[[str], Image.Image]


@contextmanager
def running_emulator(*args: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """Start `python -m emulator --port 0 ARGS` on 127.0.0.1; yield its base URL once it answers."""
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", "0", *args],
            cwd=REPO,
            env={**os.environ, **(env or {})},
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        stdout = process.stdout
        assert stdout is not None
        try:
            line = stdout.readline()
            match = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
            if match is None:
                stderr.seek(0)
                raise RuntimeError(f"the emulator did not start: {line!r} {stderr.read().decode()}")
            _wait_until_answering(match[1])
            yield match[1]
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            stdout.close()


def _wait_until_answering(base_url: str, deadline_s: float = 10.0) -> None:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            httpx.get(f"{base_url}/__emulator/stats", timeout=1.0).raise_for_status()
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.fixture(scope="session")
def start_emulator() -> StartEmulator:
    """A process of one's own: `with start_emulator("--seed", "1", env={...}) as base_url:`."""
    return running_emulator


@pytest.fixture(scope="session")
def emulator_url() -> Iterator[str]:
    with running_emulator() as base_url:
        yield base_url


@pytest.fixture
def api(emulator_url: str) -> Iterator[httpx.Client]:
    """A client of the session's emulator, reset to the defaults with zeroed counters."""
    with httpx.Client(base_url=emulator_url, timeout=10.0) as client:
        client.post("/__emulator/config", json={**DEFAULTS, "api_token": TOKEN}).raise_for_status()
        client.post("/__emulator/reset").raise_for_status()
        yield client


@pytest.fixture
def configure(api: httpx.Client) -> Configure:
    """Change the emulator's configuration for this test: `configure(rate_limit="5/2s")`."""

    def apply(**changes: Any) -> dict[str, Any]:
        response = api.post("/__emulator/config", json=changes)
        response.raise_for_status()
        return cast(dict[str, Any], response.json())

    return apply


@pytest.fixture
def call_model(api: httpx.Client) -> CallModel:
    """POST one `ai/run` call: `call_model({"prompt": "a cat"}, gateway="g1")`; `extra_headers`
    are sent too (`{"cf-aig-metadata": ...}`)."""

    def call(
        given: dict[str, Any] | None = None,
        *,
        token: str | None = TOKEN,
        account: str = ACCOUNT,
        gateway: str | None = None,
        model: str = DEFAULT_MODEL,
        body: bytes | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        headers.update(extra_headers or {})
        if gateway is not None:
            headers["cf-aig-gateway-id"] = gateway
        if body is None:
            body = httpx.Request("POST", "/", json={"model": model, "input": given}).content
            headers["Content-Type"] = "application/json"
        return api.post(f"/client/v4/accounts/{account}/ai/run", content=body, headers=headers)

    return call


@pytest.fixture
def stats(api: httpx.Client) -> Stats:
    """The emulator's counters, fresh on each call."""
    return lambda: api.get("/__emulator/stats").json()


def _open_jpeg(data: bytes) -> Image.Image:
    assert data[:3] == b"\xff\xd8\xff", data[:40]
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "JPEG"
    return picture


@pytest.fixture
def open_jpeg() -> OpenJpeg:
    """Open bytes as a Pillow image, asserting they are a JPEG."""
    return _open_jpeg


@pytest.fixture
def fetch_image(api: httpx.Client) -> FetchImage:
    """GET an image URL the emulator returned; assert it is served as a JPEG and open it."""

    def fetch(url: str) -> Image.Image:
        response = api.get(url)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        return _open_jpeg(response.content)

    return fetch
