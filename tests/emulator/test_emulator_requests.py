"""Credentials, the body, the model and the input are checked as Cloudflare checks them."""

import base64
import io
from typing import Any, cast

import httpx
import pytest
from PIL import Image

from tests.emulator.conftest import CallModel, FetchImage, Stats


def _png_data_uri(width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), "red").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _v4_error(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False
    assert body["result"] is None
    assert body["messages"] == []
    (error,) = body["errors"]
    return cast(dict[str, Any], error)


def test_a_call_without_a_token_gets_401_2009(call_model: CallModel) -> None:
    response = call_model({"prompt": "a cat"}, token=None)
    assert response.status_code == 401
    assert response.json()["name"] == "AiGatewayError"
    assert response.json()["internalCode"] == 2009


def test_a_call_with_a_wrong_token_gets_401_2009_without_echoing_it(call_model: CallModel) -> None:
    response = call_model({"prompt": "a cat"}, token="not-the-token")
    assert response.status_code == 401
    assert response.json()["internalCode"] == 2009
    assert "not-the-token" not in response.text


def test_a_call_to_another_account_gets_403_3023(call_model: CallModel) -> None:
    response = call_model({"prompt": "a cat"}, account="someone-else")
    assert response.status_code == 403
    assert _v4_error(response)["code"] == 3023


def test_an_unknown_model_gets_400_5007(call_model: CallModel) -> None:
    response = call_model({"prompt": "a cat"}, model="bytedance/seedream-9")
    assert response.status_code == 400
    error = _v4_error(response)
    assert error["code"] == 5007
    assert "bytedance/seedream-9" in error["message"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"{not json", "JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"input": {"prompt": "a cat"}}', "model"),
        (b'{"model": "bytedance/seedream-4.0"}', "input"),
        (b'{"model": "bytedance/seedream-4.0", "input": "a cat"}', "input"),
    ],
)
def test_a_body_that_is_not_a_call_gets_400_5006(
    call_model: CallModel, body: bytes, named: str
) -> None:
    response = call_model(body=body)
    assert response.status_code == 400
    error = _v4_error(response)
    assert error["code"] == 5006
    assert named in error["message"]


@pytest.mark.parametrize(
    ("given", "named"),
    [
        ({"prompt": "a cat", "size": "custom", "height": 1024}, "width"),
        ({"prompt": "a cat", "aspect_ratio": "match_input_image"}, "image"),
        ({"prompt": "a cat", "size": "custom", "width": 5000, "height": 1024}, "input.width"),
        ({"prompt": "   "}, "input.prompt"),
        ({"prompt": "a cat", "size": "8K"}, "input.size"),
        ({"prompt": "a cat", "steps": 30}, "input.steps"),
        ({"prompt": "a cat", "image": "data:image/png;base64,bm90IGFuIGltYWdl"}, "input.image"),
    ],
)
def test_an_invalid_input_gets_400_5006_naming_the_field(
    call_model: CallModel, stats: Stats, given: dict[str, Any], named: str
) -> None:
    response = call_model(given)
    assert response.status_code == 400
    error = _v4_error(response)
    assert error["code"] == 5006
    assert named in error["message"]
    assert stats()["billed"] == 0


def test_a_match_input_image_call_with_a_data_uri_is_accepted(
    call_model: CallModel, fetch_image: FetchImage
) -> None:
    response = call_model(
        {"prompt": "a cat", "aspect_ratio": "match_input_image", "image": _png_data_uri(300, 600)}
    )
    assert response.status_code == 200
    width, height = fetch_image(response.json()["result"]["image"]).size
    assert height == pytest.approx(2 * width, abs=2)
