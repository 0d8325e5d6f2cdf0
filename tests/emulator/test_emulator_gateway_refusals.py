"""What a real AI Gateway refuses with: its over-rate 401 / 2009, and faults injected on demand."""

import httpx
import pytest

from tests.emulator.conftest import CallModel, Configure, Stats

#: AI Gateway's answer to an over-rate call, byte for byte as Cloudflare sends it
OVER_RATE = (
    b'{"success":false,"result":[],"error":[{"code":2009,"message":"Unauthorized"}],'
    b'"name":"AiGatewayError","httpCode":401,"internalCode":2009}'
)


def test_the_limit_can_answer_as_a_real_gateway_with_401_2009(
    call_model: CallModel, configure: Configure, stats: Stats
) -> None:
    configure(rate_limit="1/60s", rate_limit_answer="unauthorized")
    assert call_model({"prompt": "a cat", "size": "1K"}).status_code == 200

    refused = call_model({"prompt": "a cat", "size": "1K"})

    assert refused.status_code == 401
    assert refused.content == OVER_RATE
    assert "retry-after" not in refused.headers
    assert stats()["rate_limited"] == 1


def test_the_limit_can_answer_a_plain_429_with_retry_after(
    call_model: CallModel, configure: Configure
) -> None:
    configure(rate_limit="1/60s", rate_limit_answer="plain_429")
    call_model({"prompt": "a cat", "size": "1K"})

    refused = call_model({"prompt": "a cat", "size": "1K"})

    assert refused.status_code == 429
    assert "code" not in refused.text
    assert 1 <= int(refused.headers["retry-after"]) <= 60


def test_an_unknown_rate_limit_answer_is_refused(api: httpx.Client) -> None:
    response = api.post("/__emulator/config", json={"rate_limit_answer": "teapot"})

    assert response.status_code == 400
    assert "rate_limit_answer" in response.text


def test_an_injected_fault_answers_the_next_calls_then_stops(
    api: httpx.Client, call_model: CallModel, stats: Stats
) -> None:
    injected = api.post("/__emulator/inject", json={"kind": "over_rate", "count": 2})
    assert injected.json() == {"kind": "over_rate", "pending": 2}

    codes = [call_model({"prompt": "a cat", "size": "1K"}).status_code for _ in range(3)]

    assert codes == [401, 401, 200]
    assert stats()["by_fault"] == {"over_rate": 2}


def test_an_injection_counts_one_call_when_no_count_is_given(
    api: httpx.Client, call_model: CallModel
) -> None:
    api.post("/__emulator/inject", json={"kind": "spend_limit"}).raise_for_status()

    codes = [call_model({"prompt": "a cat", "size": "1K"}).status_code for _ in range(2)]

    assert codes == [429, 200]


def test_a_reset_drops_pending_injections(api: httpx.Client, call_model: CallModel) -> None:
    api.post("/__emulator/inject", json={"kind": "gateway_429", "count": 5}).raise_for_status()
    api.post("/__emulator/reset").raise_for_status()

    assert call_model({"prompt": "a cat", "size": "1K"}).status_code == 200


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"kind": "meteor"}, "kind"),
        ({"count": 1}, "kind"),
        ({"kind": "gateway_429", "count": 0}, "count"),
        ({"kind": "gateway_429", "count": "two"}, "count"),
        ([1, 2], "kind"),
    ],
)
def test_a_bad_injection_is_refused_naming_what_is_wrong(
    api: httpx.Client, body: object, named: str
) -> None:
    response = api.post("/__emulator/inject", json=body)

    assert response.status_code == 400
    assert named in response.json()["error"]
