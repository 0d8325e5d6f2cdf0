"""The emulator speaks every model: each validated by its adapter and answered in its shape,
Seedream 4.5's several images each distinct and billed; and the gateway's headers: metadata
recorded (or refused), ids on every answer, recent calls listed."""

import json
import subprocess
import sys

import httpx
import pytest

from jobs.models import MODELS
from tests.emulator.conftest import CallModel, Configure, FetchImage, StartEmulator, Stats

SEEDREAM_45 = "bytedance/seedream-4.5"
SEVERAL = {"max_images": 4, "sequential_image_generation": "auto"}


def calls(api: httpx.Client) -> list[dict[str, object]]:
    response = api.get("/__emulator/calls")
    response.raise_for_status()
    result: list[dict[str, object]] = response.json()
    return result


def test_seedream_4_5_answers_a_list_of_one_image_by_default(
    call_model: CallModel, fetch_image: FetchImage
) -> None:
    response = call_model(
        {"prompt": "a fox", "size": "4K", "aspect_ratio": "16:9"}, model=SEEDREAM_45
    )

    assert response.status_code == 200
    (url,) = response.json()["result"]["images"]
    assert "/cdn/seedream-4-5/5120x2880/" in url
    assert fetch_image(url).size == (5120, 2880)


def test_auto_answers_several_distinct_images_each_billed(
    call_model: CallModel, fetch_image: FetchImage, stats: Stats
) -> None:
    prompts = [f"a fox {n}" for n in range(12)]
    answers = [
        call_model({"prompt": prompt, **SEVERAL}, model=SEEDREAM_45).json()["result"]["images"]
        for prompt in prompts
    ]
    again = call_model({"prompt": prompts[0], **SEVERAL}, model=SEEDREAM_45)

    counts = [len(images) for images in answers]
    assert set(counts) <= {1, 2, 3, 4}
    assert max(counts) > 1
    assert again.json()["result"]["images"] == answers[0]
    several = next(images for images in answers if len(images) > 1)
    assert len({fetch_image(url).tobytes() for url in several}) == len(several)
    counted = stats()
    assert counted["billed"] == sum(counts) + counts[0]
    assert counted["billed_calls"] == len(prompts) + 1


def test_a_4_5_input_is_refused_with_its_field_messages(call_model: CallModel) -> None:
    response = call_model({"prompt": "a fox", "size": "1K", "max_images": 3}, model=SEEDREAM_45)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["code"] == 5006
    assert "input.size: Input should be '2K' or '4K'" in error["message"]


def test_a_model_left_out_of_the_allow_list_gets_5007(
    call_model: CallModel, configure: Configure
) -> None:
    configure(models=["bytedance/seedream-4.0"])
    response = call_model({"prompt": "a fox"}, model=SEEDREAM_45)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == 5007
    assert call_model({"prompt": "a fox", "size": "1K"}).status_code == 200


def test_an_unsupported_model_cannot_be_allowed(api: httpx.Client) -> None:
    response = api.post("/__emulator/config", json={"models": ["flux"]})
    assert response.status_code == 400
    assert "'flux' is not a model this version supports" in response.json()["error"]


def test_every_answer_carries_fresh_log_and_request_ids(call_model: CallModel) -> None:
    answers = [
        call_model({"prompt": "a fox", "size": "1K"}),
        call_model({"prompt": "a fox"}, token="wrong"),
        call_model({"prompt": ""}),
    ]
    assert [answer.status_code for answer in answers] == [200, 401, 400]
    log_ids = {answer.headers["cf-aig-log-id"] for answer in answers}
    request_ids = {answer.headers["cf-aig-request-id"] for answer in answers}
    assert len(log_ids) == len(request_ids) == 3


def test_recent_calls_show_model_gateway_metadata_and_headers_newest_last(
    api: httpx.Client, call_model: CallModel
) -> None:
    metadata = {"batch": "b1", "job": 7, "retry": False}
    first = call_model(
        {"prompt": "a fox", **SEVERAL},
        model=SEEDREAM_45,
        gateway="g1",
        extra_headers={
            "cf-aig-metadata": json.dumps(metadata),
            "cf-aig-skip-cache": "true",
            "cf-aig-max-attempts": "2",
        },
    )
    call_model({"prompt": ""})

    recorded = calls(api)

    assert recorded[0] == {
        "model": SEEDREAM_45,
        "gateway": "g1",
        "metadata": metadata,
        "log_id": first.headers["cf-aig-log-id"],
        "status": 200,
        "images": len(first.json()["result"]["images"]),
        "skip_cache": True,
        "max_attempts": 2,
    }
    assert recorded[1]["status"] == 400
    assert recorded[1]["images"] == 0
    assert recorded[1]["metadata"] is None
    assert len(recorded) == 2


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ("{not json", "cf-aig-metadata is not JSON"),
        ('["a"]', "cf-aig-metadata must be a JSON object"),
        (json.dumps({f"k{n}": n for n in range(6)}), "has 6 entries; at most 5 are allowed"),
        ('{"tags": ["a"]}', "entry 'tags' is not a string, number or boolean"),
    ],
)
def test_bad_metadata_gets_the_gateways_400_and_is_not_billed(
    api: httpx.Client, call_model: CallModel, stats: Stats, metadata: str, problem: str
) -> None:
    response = call_model({"prompt": "a fox"}, extra_headers={"cf-aig-metadata": metadata})

    assert response.status_code == 400
    body = response.json()
    assert body["name"] == "AiGatewayError"
    assert problem in body["message"]
    assert "cf-aig-log-id" in response.headers
    assert stats()["billed"] == 0
    assert calls(api)[0]["status"] == 400


def test_the_stats_reset_clears_the_recent_calls(api: httpx.Client, call_model: CallModel) -> None:
    call_model({"prompt": "a fox", "size": "1K"})
    assert len(calls(api)) == 1
    api.post("/__emulator/reset").raise_for_status()
    assert calls(api) == []


def test_an_image_url_of_no_model_or_past_every_size_is_not_served(api: httpx.Client) -> None:
    seed = "0123456789abcdef"
    assert api.get(f"/cdn/flux-1/64x64/{seed}.jpeg").status_code == 404
    assert api.get(f"/cdn/seedream-4-5/8192x8192/{seed}.jpeg").status_code == 404
    assert api.get(f"/cdn/seedream-4-5/64x64/{seed}.jpeg").status_code == 200


def test_the_command_serves_the_models_it_is_given_and_ignores_seedream_model(
    start_emulator: StartEmulator,
) -> None:
    env = {"SEEDREAM_MODEL": "bytedance/seedream-4.0"}
    with (
        start_emulator("--model", SEEDREAM_45, env=env) as base_url,
        httpx.Client(base_url=base_url, timeout=10.0) as client,
    ):
        assert client.get("/__emulator/config").json()["models"] == [SEEDREAM_45]
    with (
        start_emulator(env=env) as base_url,
        httpx.Client(base_url=base_url, timeout=10.0) as client,
    ):
        assert client.get("/__emulator/config").json()["models"] == list(MODELS)


def test_an_unsupported_model_option_is_refused_naming_the_supported_ones() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--port", "0", "--model", "flux"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "'flux' is not a model this version supports" in result.stderr
