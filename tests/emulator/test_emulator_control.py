"""The control endpoints: counters, reset and live configuration, never the token."""

import asyncio
import time

import httpx

from tests.emulator.conftest import CallModel, Configure, Stats


def test_only_image_answers_are_billed_and_every_call_is_counted(
    call_model: CallModel, stats: Stats
) -> None:
    call_model({"prompt": "a cat", "size": "1K"})
    call_model({"prompt": "a cat"}, token="wrong")
    call_model({"prompt": ""})
    counted = stats()
    assert counted["requests"] == 3
    assert counted["billed"] == 1
    assert counted["by_status"] == {"200": 1, "400": 1, "401": 1}


def test_reset_zeroes_the_counters(
    api: httpx.Client, call_model: CallModel, configure: Configure, stats: Stats
) -> None:
    configure(rate_limit="1/60s")
    call_model({"prompt": "a cat", "size": "1K"})
    assert call_model({"prompt": "a cat", "size": "1K"}).status_code == 429
    api.post("/__emulator/reset").raise_for_status()
    counted = stats()
    assert (
        counted["requests"],
        counted["billed"],
        counted["rate_limited"],
        counted["by_status"],
    ) == (0, 0, 0, {})
    assert counted["gateways"] == {}
    assert counted["max_calls_in_any_window"] == 0
    assert call_model({"prompt": "a cat", "size": "1K"}).status_code == 200


def test_a_config_change_applies_to_the_next_call(
    api: httpx.Client, call_model: CallModel, configure: Configure
) -> None:
    shown = configure(latency_s=0.3, response_form="v4_envelope")
    assert shown["latency_s"] == 0.3
    assert api.get("/__emulator/config").json() == shown
    started = time.monotonic()
    response = call_model({"prompt": "a cat", "size": "1K"})
    assert time.monotonic() - started >= 0.3
    assert response.json()["success"] is True


def test_the_config_never_shows_the_token(api: httpx.Client, configure: Configure) -> None:
    shown = configure(api_token="sekret-token")
    assert "api_token" not in shown
    assert "sekret-token" not in api.get("/__emulator/config").text


def test_a_bad_config_change_is_refused_naming_the_field(api: httpx.Client) -> None:
    for change, named in [
        ({"latency_s": -1}, "latency_s"),
        ({"rate_limit": "fast"}, "rate_limit"),
        ({"faults": {"gremlins": 0.1}}, "faults"),
        ({"colour": "red"}, "colour"),
    ]:
        response = api.post("/__emulator/config", json=change)
        assert response.status_code == 400
        assert named in response.json()["error"]


def test_slow_calls_are_answered_concurrently_and_counted_in_flight(
    emulator_url: str, configure: Configure, stats: Stats
) -> None:
    configure(latency_s=0.5)

    async def call_many(count: int) -> list[int]:
        async with httpx.AsyncClient(base_url=emulator_url, timeout=10.0) as client:
            calls = [
                client.post(
                    "/client/v4/accounts/acct/ai/run",
                    json={"model": "bytedance/seedream-4.0", "input": {"prompt": f"cat {n}"}},
                    headers={"Authorization": "Bearer tok"},
                )
                for n in range(count)
            ]
            return [response.status_code for response in await asyncio.gather(*calls)]

    started = time.monotonic()
    assert asyncio.run(call_many(50)) == [200] * 50
    assert time.monotonic() - started < 5.0  # one after another would take 25 s
    counted = stats()
    assert counted["max_in_flight"] == 50
    assert counted["in_flight"] == 0
