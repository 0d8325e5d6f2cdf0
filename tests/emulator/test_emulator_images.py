"""A valid call gets an image of the size Seedream would make, served by the emulator."""

import base64
import time
from typing import Any

import httpx
import pytest

from emulator.render import draw_jpeg, render_jpeg
from jobs.models.seedream_4_0 import Seedream40Input, output_dimensions
from tests.emulator.conftest import CallModel, Configure, FetchImage, OpenJpeg


@pytest.mark.parametrize(
    "given",
    [
        {"prompt": "a cat"},
        {"prompt": "a cat", "size": "1K", "aspect_ratio": "16:9"},
        {"prompt": "a cat", "size": "4K", "aspect_ratio": "21:9"},
        {"prompt": "a cat", "size": "custom", "width": 1500, "height": 1024},
        {"prompt": "a cat", "image": "https://example.com/cat.png"},
    ],
)
def test_a_valid_call_returns_a_url_to_a_jpeg_of_the_output_size(
    call_model: CallModel, fetch_image: FetchImage, given: dict[str, Any]
) -> None:
    response = call_model(given)
    assert response.status_code == 200
    body = response.json()
    assert body["state"] == "Completed"
    assert body["gatewayMetadata"] == {"keySource": "Unified"}
    picture = fetch_image(body["result"]["image"])
    assert picture.size == output_dimensions(Seedream40Input.model_validate(given))


def test_the_image_url_points_back_at_the_server_that_was_called(
    api: httpx.Client, call_model: CallModel
) -> None:
    url = call_model({"prompt": "a cat"}).json()["result"]["image"]
    assert url.startswith(f"{api.base_url}".rstrip("/") + "/cdn/seedream-4-0/2048x2048/")
    assert url.endswith(".jpeg")


def test_different_prompts_give_different_images_and_the_same_prompt_the_same(
    api: httpx.Client, call_model: CallModel
) -> None:
    def image_bytes(prompt: str) -> bytes:
        url = call_model({"prompt": prompt, "size": "1K"}).json()["result"]["image"]
        return api.get(url).content

    cat, dog = image_bytes("a cat"), image_bytes("a dog")
    assert cat != dog
    assert image_bytes("a cat") == cat


def test_an_image_url_the_emulator_did_not_make_is_404(api: httpx.Client) -> None:
    assert api.get("/cdn/seedream-4-0/99999x2/0123456789abcdef.jpeg").status_code == 404
    assert api.get("/cdn/seedream-4-0/1024x1024/not-a-seed.jpeg").status_code == 404


@pytest.mark.parametrize("form", ["url", "images_list", "base64", "data_uri", "raw", "v4_envelope"])
def test_each_response_form_carries_a_jpeg_of_the_output_size(
    call_model: CallModel,
    configure: Configure,
    fetch_image: FetchImage,
    open_jpeg: OpenJpeg,
    form: str,
) -> None:
    configure(response_form=form)
    response = call_model({"prompt": "a cat", "size": "1K"})
    assert response.status_code == 200
    if form == "raw":
        assert response.headers["content-type"] == "image/jpeg"
        picture = open_jpeg(response.content)
    else:
        body = response.json()
        result = body["result"]
        if form == "v4_envelope":
            assert body["success"] is True
            assert body["errors"] == []
            assert body["messages"] == []
        else:
            assert body["state"] == "Completed"
        if form == "images_list":
            picture = fetch_image(result["images"][0])
        elif form == "base64":
            picture = open_jpeg(base64.b64decode(result["image"]))
        elif form == "data_uri":
            prefix, _, payload = result["image"].partition(",")
            assert prefix == "data:image/jpeg;base64"
            picture = open_jpeg(base64.b64decode(payload))
        else:
            picture = fetch_image(result["image"])
    assert picture.size == (1024, 1024)


def test_a_2k_image_renders_and_encodes_quickly() -> None:
    def seconds() -> float:
        started = time.perf_counter()
        draw_jpeg(2048, 2048, seed=1)
        return time.perf_counter() - started

    assert min(seconds(), seconds()) < 0.3


def test_a_picture_asked_for_again_is_served_from_the_cache_not_redrawn() -> None:
    first = render_jpeg(1024, 768, seed=42)

    assert render_jpeg(1024, 768, seed=42) is first
    assert first == draw_jpeg(1024, 768, seed=42)
    assert render_jpeg(1024, 768, seed=43) != first
