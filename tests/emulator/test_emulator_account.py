"""The emulator's account API: token verification (user and account forms) and the AI Gateway
lookups, in Cloudflare's v4 envelope with its codes, and none of it counted as a call."""

import httpx

from tests.emulator.conftest import ACCOUNT, TOKEN, Configure, StartEmulator

V4 = "/client/v4"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WRONG = {"Authorization": "Bearer not-the-token"}


def test_the_emulators_token_verifies_as_active_on_both_forms(api: httpx.Client) -> None:
    for path in (f"{V4}/user/tokens/verify", f"{V4}/accounts/{ACCOUNT}/tokens/verify"):
        answer = api.get(path, headers=BEARER)

        assert answer.status_code == 200, path
        assert answer.json()["success"] is True
        assert answer.json()["result"]["status"] == "active"


def test_another_token_is_401_with_code_1000(api: httpx.Client) -> None:
    answer = api.get(f"{V4}/user/tokens/verify", headers=WRONG)

    assert answer.status_code == 401
    assert answer.json()["success"] is False
    assert answer.json()["errors"] == [{"code": 1000, "message": "Invalid API Token"}]


def test_another_account_is_403_with_code_7403(api: httpx.Client) -> None:
    answer = api.get(f"{V4}/accounts/someone-else/ai-gateway/gateways", headers=BEARER)

    assert answer.status_code == 403
    assert answer.json()["errors"][0]["code"] == 7403


def test_by_default_every_gateway_exists(api: httpx.Client) -> None:
    answer = api.get(f"{V4}/accounts/{ACCOUNT}/ai-gateway/gateways/anything", headers=BEARER)

    assert answer.status_code == 200
    assert answer.json()["result"]["id"] == "anything"


def test_configured_gateways_are_listed_and_others_are_404(
    api: httpx.Client, configure: Configure
) -> None:
    configure(gateways="g1,g2")
    gateways = f"{V4}/accounts/{ACCOUNT}/ai-gateway/gateways"

    listed = api.get(gateways, headers=BEARER).json()["result"]
    missing = api.get(f"{gateways}/g3", headers=BEARER)

    assert [gateway["id"] for gateway in listed] == ["g1", "g2"]
    assert api.get(f"{gateways}/g2", headers=BEARER).status_code == 200
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == 7002


def test_a_token_without_ai_gateway_read_is_403_with_code_9109(
    api: httpx.Client, configure: Configure
) -> None:
    configure(gateway_read=False)

    answer = api.get(f"{V4}/accounts/{ACCOUNT}/ai-gateway/gateways", headers=BEARER)

    assert answer.status_code == 403
    assert answer.json()["errors"][0]["code"] == 9109
    assert api.get(f"{V4}/user/tokens/verify", headers=BEARER).status_code == 200


def test_the_account_api_is_not_counted_as_calls(api: httpx.Client) -> None:
    api.get(f"{V4}/user/tokens/verify", headers=BEARER)

    stats = api.get("/__emulator/stats").json()
    assert stats["billed"] == 0
    assert stats["requests"] == 0


def test_the_gateways_option_names_the_ones_that_exist(start_emulator: StartEmulator) -> None:
    with start_emulator("--gateways", "only") as base_url:
        gateways = f"{base_url}{V4}/accounts/{ACCOUNT}/ai-gateway/gateways"
        env_token = {"Authorization": "Bearer tok"}

        assert httpx.get(f"{gateways}/only", headers=env_token).status_code == 200
        assert httpx.get(f"{gateways}/other", headers=env_token).status_code == 404
