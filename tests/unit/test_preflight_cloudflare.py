"""The Cloudflare lines of doctor and of the preflight, word for word, through an httpx
MockTransport answering as Cloudflare's account API does: the token, the account, each gateway."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from config.settings import Settings
from producer.preflight.cloudflare_checks import account_and_gateway_lines, token_line
from producer.preflight.lines import CheckLine, Outcome
from tests.support.http import Recorder
from worker.cloudflare_account import AccountApiUnreachable, CloudflareAccount

TOKEN = "cf-secret-token-0123456789"
ACCOUNT = "acc0123"
BASE = "https://cf.test/client/v4"
#: Cloudflare's answers, by what they say
VERIFIED = (200, {"success": True, "errors": [], "result": {"id": "f26", "status": "active"}})
INVALID_TOKEN = (
    401,
    {"success": False, "errors": [{"code": 1000, "message": "Invalid API Token"}]},
)
NOT_PERMITTED = (
    403,
    {
        "success": False,
        "errors": [{"code": 9109, "message": "Unauthorized to access requested resource"}],
    },
)
NOT_THE_ACCOUNT = (
    403,
    {"success": False, "errors": [{"code": 7403, "message": "The given account is not valid"}]},
)
GATEWAYS = (200, {"success": True, "errors": [], "result": []})
NOT_FOUND = (404, {"success": False, "errors": [{"code": 7002, "message": "Not Found"}]})

Answers = dict[str, tuple[int, dict[str, Any]]]


@pytest.fixture
def answers() -> Answers:
    """What each path answers (a test changes the ones it is about); others are 404."""
    return {
        "/user/tokens/verify": VERIFIED,
        f"/accounts/{ACCOUNT}/tokens/verify": VERIFIED,
        f"/accounts/{ACCOUNT}/ai-gateway/gateways": GATEWAYS,
        f"/accounts/{ACCOUNT}/ai-gateway/gateways/g1": (200, {"success": True, "result": {}}),
    }


@pytest.fixture
def recorder(answers: Answers) -> Recorder:
    def respond(request: httpx.Request) -> httpx.Response:
        status, body = answers.get(request.url.path.removeprefix("/client/v4"), NOT_FOUND)
        return httpx.Response(status, json=body)

    return Recorder(respond)


@pytest.fixture
def account(recorder: Recorder) -> Iterator[CloudflareAccount]:
    settings = Settings(api_token=SecretStr(TOKEN), account_id=ACCOUNT, api_base="https://cf.test/")
    with (
        httpx.Client(transport=httpx.MockTransport(recorder)) as http,
        CloudflareAccount(settings, http) as client,
    ):
        yield client


def rendered(lines: list[CheckLine]) -> list[str]:
    return [line.render() for line in lines]


def test_a_valid_user_token_is_one_green_line_and_sent_as_a_bearer_token(
    account: CloudflareAccount, recorder: Recorder
) -> None:
    assert token_line(account).render() == "✓ token: valid and active (a user token)"
    [request] = recorder.requests
    assert str(request.url) == f"{BASE}/user/tokens/verify"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_an_account_token_the_user_form_does_not_know_is_verified_on_the_account(
    account: CloudflareAccount, answers: Answers
) -> None:
    answers["/user/tokens/verify"] = INVALID_TOKEN

    assert token_line(account).render() == "✓ token: valid and active (an account token)"


def test_a_token_neither_form_knows_is_one_red_line_saying_what_to_do(
    account: CloudflareAccount, answers: Answers
) -> None:
    answers["/user/tokens/verify"] = INVALID_TOKEN
    answers[f"/accounts/{ACCOUNT}/tokens/verify"] = INVALID_TOKEN

    line = token_line(account)

    assert line.outcome is Outcome.failed
    assert line.render() == (
        "✗ token: Cloudflare refuses CLOUDFLARE_API_TOKEN (HTTP 401, code 1000: Invalid API "
        "Token); create an API token with the Workers AI and AI Gateway permissions (AI Gateway "
        "Read lets doctor check the gateways) and export it as CLOUDFLARE_API_TOKEN"
    )


def test_an_answer_quoting_the_token_never_shows_it(
    account: CloudflareAccount, answers: Answers
) -> None:
    echo = (401, {"success": False, "errors": [{"code": 1000, "message": f"bad {TOKEN}"}]})
    answers["/user/tokens/verify"] = echo
    answers[f"/accounts/{ACCOUNT}/tokens/verify"] = echo

    line = token_line(account).render()

    assert TOKEN not in line
    assert "code 1000: bad [token]" in line


def test_an_expired_token_says_so(account: CloudflareAccount, answers: Answers) -> None:
    answers["/user/tokens/verify"] = (200, {"success": True, "result": {"status": "expired"}})

    assert token_line(account).text.startswith("the token is expired; create an API token")


def test_no_gateway_set_is_fine_the_default_one_is_made_on_first_use(
    account: CloudflareAccount,
) -> None:
    assert rendered(account_and_gateway_lines(account, ())) == [
        f"✓ account: {ACCOUNT} is reachable, and the token may read its AI Gateways",
        "✓ gateways: none set (CLOUDFLARE_GATEWAY_IDS): calls go through the account's default "
        "gateway, which Cloudflare makes on the first call",
    ]


def test_each_gateway_is_its_own_line_and_a_missing_one_says_what_to_do(
    account: CloudflareAccount,
) -> None:
    lines = account_and_gateway_lines(account, ("g1", "gone", "default"))

    assert rendered(lines)[1:] == [
        "✓ gateway g1: exists",
        f"✗ gateway gone: does not exist in account {ACCOUNT}: create it (dashboard > AI > AI "
        "Gateway) or remove it from CLOUDFLARE_GATEWAY_IDS",
        "✓ gateway default: not made yet: Cloudflare makes it on the first call",
    ]


def test_an_account_the_token_cannot_reach_is_its_own_red_line(
    account: CloudflareAccount, answers: Answers
) -> None:
    answers[f"/accounts/{ACCOUNT}/ai-gateway/gateways"] = NOT_THE_ACCOUNT

    account_line, gateways = account_and_gateway_lines(account, ("g1",))

    assert account_line.render() == (
        f"✗ account: account {ACCOUNT} is not reachable with this token (HTTP 403, code 7403: "
        "The given account is not valid): check CLOUDFLARE_ACCOUNT_ID (dashboard > Workers AI > "
        "account id)"
    )
    assert gateways.render() == "! gateways: not checked: the account's gateways could not be read"


def test_a_token_without_ai_gateway_read_is_a_warning_that_the_check_could_not_be_made(
    account: CloudflareAccount, answers: Answers
) -> None:
    answers[f"/accounts/{ACCOUNT}/ai-gateway/gateways"] = NOT_PERMITTED

    [line] = account_and_gateway_lines(account, ())

    assert line.outcome is Outcome.warning
    assert line.text.startswith(f"could not check account {ACCOUNT} (HTTP 403, code 9109: ")
    assert "the token lacks AI Gateway Read, or the account is not the token's" in line.text


def test_a_gateway_id_is_sent_percent_encoded_inside_its_path(
    account: CloudflareAccount, recorder: Recorder
) -> None:
    account_and_gateway_lines(account, ("../x y",))

    assert (
        recorder.requests[-1].url.raw_path.decode().endswith("/ai-gateway/gateways/%2E%2E%2Fx%20y")
    )


def test_cloudflare_unreachable_is_an_error_naming_where(
    account: CloudflareAccount, recorder: Recorder
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    recorder.respond = refuse

    with pytest.raises(
        AccountApiUnreachable, match=r"cannot reach Cloudflare at https://cf.test/client/v4: "
    ):
        token_line(account)
