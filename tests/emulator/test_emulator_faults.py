"""Each injected fault answers in the status and shape the contract lists, and costs nothing."""

import json
from collections.abc import Callable
from typing import Any, cast

import httpx
import pytest

from emulator.faults import OVER_RATE_BODY
from tests.emulator.conftest import CallModel, Configure, Stats


def _v4_code(body: dict[str, Any]) -> int:
    assert body["success"] is False
    return cast(int, body["errors"][0]["code"])


@pytest.mark.parametrize(
    ("kind", "status", "check"),
    [
        (
            "server_error",
            503,
            lambda b: b["state"] == "Failed" and b["error"]["code"] == "provider_unavailable",
        ),
        ("capacity", 429, lambda b: _v4_code(b) == 3040),
        ("timeout", 408, lambda b: _v4_code(b) == 3007),
        (
            "quota",
            429,
            lambda b: (
                b["error"]["code"] == "internal_error" and b["error"]["message"].startswith("4006:")
            ),
        ),
        (
            "gateway_error",
            500,
            lambda b: b["name"] == "AiGatewayError" and isinstance(b["internalCode"], int),
        ),
        ("failed_200", 200, lambda b: b["state"] == "Failed" and b["error"]["message"]),
        ("content_policy", 400, lambda b: "content moderation" in b["error"]["message"]),
        ("errors_object", 500, lambda b: b["success"] is False and isinstance(b["errors"], dict)),
        ("over_rate", 401, lambda b: b == OVER_RATE_BODY),
        ("spend_limit", 429, lambda b: "spend limit" in b["error"][0]["message"]),
        ("gateway_429", 429, lambda b: b == {"success": False, "error": "Too Many Requests"}),
    ],
)
def test_a_fault_answers_in_its_status_and_shape_and_is_not_billed(
    call_model: CallModel,
    configure: Configure,
    stats: Stats,
    kind: str,
    status: int,
    check: Callable[[dict[str, Any]], object],
) -> None:
    configure(faults={kind: 1.0})
    response = call_model({"prompt": "a cat"})
    assert response.status_code == status
    assert check(response.json())
    counted = stats()
    assert counted["billed"] == 0
    assert counted["by_fault"] == {kind: 1}
    assert counted["by_status"] == {str(status): 1}


def test_a_capacity_fault_sends_no_retry_after(call_model: CallModel, configure: Configure) -> None:
    configure(faults={"capacity": 1.0})
    assert "retry-after" not in call_model({"prompt": "a cat"}).headers


def test_a_malformed_answer_is_a_200_whose_body_is_not_json(
    call_model: CallModel, configure: Configure, stats: Stats
) -> None:
    configure(faults={"malformed": 1.0})
    response = call_model({"prompt": "a cat"})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert stats()["billed"] == 0


def test_a_non_image_fault_is_a_billed_success_whose_url_serves_html(
    api: httpx.Client, call_model: CallModel, configure: Configure, stats: Stats
) -> None:
    configure(faults={"non_image": 1.0})
    response = call_model({"prompt": "a cat"})
    assert response.status_code == 200
    url = response.json()["result"]["image"]
    served = api.get(url)
    assert served.status_code == 200
    assert served.headers["content-type"].startswith("text/html")
    assert not served.content.startswith(b"\xff\xd8\xff")
    assert stats()["billed"] == 1


def test_a_hang_outlasts_a_short_read_timeout_then_answers_504(
    api: httpx.Client, call_model: CallModel, configure: Configure
) -> None:
    configure(faults={"hang": 1.0}, hang_s=0.5)
    with pytest.raises(httpx.ReadTimeout):
        api.post(
            "/client/v4/accounts/acct/ai/run",
            json={"model": "bytedance/seedream-4.0", "input": {"prompt": "a cat"}},
            headers={"Authorization": "Bearer tok"},
            timeout=httpx.Timeout(5.0, read=0.1),
        )
    response = call_model({"prompt": "a cat"})
    assert response.status_code == 504
    assert response.json()["state"] == "Failed"


def test_faults_are_drawn_at_their_probabilities_and_repeat_with_a_seed(
    call_model: CallModel, configure: Configure, stats: Stats
) -> None:
    def statuses() -> list[int]:
        configure(faults={"server_error": 0.3, "timeout": 0.2}, seed=42)
        return [call_model({"prompt": f"cat {n}", "size": "1K"}).status_code for n in range(60)]

    first = statuses()
    assert first == statuses()
    assert 5 <= first.count(503) <= 35
    assert 2 <= first.count(408) <= 25
    assert stats()["billed"] == 2 * first.count(200) > 0


def test_fault_probabilities_adding_up_to_more_than_one_are_refused(api: httpx.Client) -> None:
    response = api.post(
        "/__emulator/config", json={"faults": {"server_error": 0.7, "timeout": 0.6}}
    )
    assert response.status_code == 400
    assert "faults" in response.json()["error"]
