"""worker.responses: each success form and failure shape of docs/cloudflare-api.md, classed."""

import base64
import email.utils
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from jobs.errors import (
    AuthError,
    BadImage,
    ContentPolicy,
    InvalidInput,
    JobError,
    ProviderTimeout,
    QuotaExceeded,
    RateLimited,
    ServerError,
)
from tests.support.generations import SEEDREAM_40, from_bytes, from_url
from tests.support.images import image_bytes
from worker.responses import (
    MAX_MESSAGE_CHARS,
    Generation,
    ProviderImage,
    parse_response,
    parse_retry_after,
)

IMAGE_URL = "https://ark-content-generation-v2-ap-southeast-1.tos-ap-southeast-1.volces.com/seedream-4-0/abc_0.jpeg"


def answer(status: int, doc: Any, headers: dict[str, str] | None = None) -> Generation:
    """parse_response on a JSON answer."""
    return parse_response(
        status, "application/json", json.dumps(doc).encode(), headers or {}, SEEDREAM_40
    )


def failure(status: int, doc: Any, headers: dict[str, str] | None = None) -> JobError:
    with pytest.raises(JobError) as raised:
        answer(status, doc, headers)
    return raised.value


# --- success forms -----------------------------------------------------------------------------


def test_the_documented_seedream_answer_gives_its_url() -> None:
    doc = {
        "state": "Completed",
        "result": {"image": IMAGE_URL},
        "gatewayMetadata": {"keySource": "Unified"},
    }

    assert answer(200, doc) == from_url(IMAGE_URL)


def test_a_list_of_images_gives_every_one_in_order() -> None:
    doc = {"state": "Completed", "result": {"images": [IMAGE_URL, IMAGE_URL + "?second"]}}

    assert answer(200, doc).images == (
        ProviderImage(url=IMAGE_URL),
        ProviderImage(url=IMAGE_URL + "?second"),
    )


def test_the_gateways_ids_for_the_call_are_kept() -> None:
    doc = {"state": "Completed", "result": {"image": IMAGE_URL}}
    headers = {"cf-aig-log-id": "01JLOG", "CF-AIG-Request-Id": "req-7"}

    generation = answer(200, doc, headers)

    assert (generation.log_id, generation.request_id) == ("01JLOG", "req-7")


def test_the_v4_wrapper_is_unwrapped() -> None:
    doc = {"success": True, "result": {"image": IMAGE_URL}, "errors": [], "messages": []}

    assert answer(200, doc) == from_url(IMAGE_URL)


def test_a_base64_image_gives_its_bytes() -> None:
    doc = {"result": {"image": base64.b64encode(image_bytes("PNG", (8, 8))).decode()}}

    assert answer(200, doc) == from_bytes(image_bytes("PNG", (8, 8)))


def test_a_data_uri_image_gives_its_bytes() -> None:
    doc = {
        "success": True,
        "result": {
            "image": "data:image/png;base64,"
            + base64.b64encode(image_bytes("PNG", (8, 8))).decode()
        },
    }

    assert answer(200, doc) == from_bytes(image_bytes("PNG", (8, 8)))


@pytest.mark.parametrize("content_type", ["image/png", "image/jpeg", "IMAGE/PNG; charset=binary"])
def test_a_raw_image_body_is_the_image(content_type: str) -> None:
    assert parse_response(
        200, content_type, image_bytes("PNG", (8, 8)), {}, SEEDREAM_40
    ) == from_bytes(image_bytes("PNG", (8, 8)))


def test_json_with_a_charset_is_still_json() -> None:
    body = json.dumps({"state": "Completed", "result": {"image": IMAGE_URL}}).encode()

    answered = parse_response(200, "application/json; charset=utf-8", body, {}, SEEDREAM_40)
    assert answered == from_url(IMAGE_URL)


def test_a_base64_image_that_does_not_decode_is_a_bad_image() -> None:
    with pytest.raises(BadImage):
        answer(200, {"result": {"image": "not base64 !!"}})


# --- a 200 that is not a success ---------------------------------------------------------------


def test_a_200_with_state_failed_is_a_failure() -> None:
    doc = {
        "state": "Failed",
        "error": {
            "code": "provider_unavailable",
            "message": "All providers for this model are currently unavailable.",
        },
    }

    error = failure(200, doc)

    assert isinstance(error, ServerError)
    assert error.message == (
        "HTTP 200 code provider_unavailable: "
        "All providers for this model are currently unavailable."
    )


def test_a_200_with_success_false_and_code_4006_is_quota() -> None:
    doc = {
        "success": False,
        "errors": [{"code": 4006, "message": "daily free allocation used"}],
        "result": None,
    }

    assert isinstance(failure(200, doc), QuotaExceeded)


def test_a_200_saying_failed_is_a_failure_even_with_an_image() -> None:
    assert isinstance(failure(200, {"success": False, "result": {"image": IMAGE_URL}}), ServerError)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/html", b"<html><body>Bad gateway</body></html>"),
        ("application/json", b"{not json"),
        ("application/json", b"[1, 2]"),
        ("application/json", b'{"state": "Completed", "result": {}}'),
        ("application/json", b'{"result": {"images": []}}'),
        ("image/png", b""),
    ],
)
def test_an_unreadable_200_is_a_transient_malformed_response(
    content_type: str, body: bytes
) -> None:
    with pytest.raises(ServerError, match="HTTP 200: malformed response"):
        parse_response(200, content_type, body, {}, SEEDREAM_40)


# --- failure shapes and the table --------------------------------------------------------------


def envelope(code: int, message: str) -> dict[str, Any]:
    return {
        "success": False,
        "errors": [{"code": code, "message": message}],
        "messages": [],
        "result": None,
    }


@pytest.mark.parametrize(
    ("status", "doc", "expected"),
    [
        (429, envelope(3040, "Capacity temporarily exceeded, please try again."), RateLimited),
        (429, {"success": False, "errors": [], "messages": []}, RateLimited),
        (429, envelope(3036, "Account limited: daily free allocation"), QuotaExceeded),
        (429, envelope(4006, "you have used up your daily free allocation"), QuotaExceeded),
        (402, {"error": {"code": "payment_required", "message": "Add credits"}}, QuotaExceeded),
        (408, envelope(3007, "Request timeout"), ProviderTimeout),
        (408, envelope(3008, "Request aborted"), ProviderTimeout),
        (408, {}, ProviderTimeout),
        (
            500,
            {
                "state": "Failed",
                "error": {"code": "provider_unavailable", "message": "unavailable"},
            },
            ServerError,
        ),
        (502, {}, ServerError),
        (
            503,
            {"error": {"code": "internal_error", "message": "provider rejected credentials"}},
            ServerError,
        ),
        (504, {}, ServerError),
        (400, envelope(5006, "Input validation error: prompt required"), InvalidInput),
        (400, envelope(3003, "Bad input"), InvalidInput),
        (400, envelope(5004, "Invalid model input"), InvalidInput),
        (400, envelope(5007, "No such model"), InvalidInput),
        (404, envelope(3042, "Model not found"), InvalidInput),
        (
            401,
            {"name": "AiGatewayError", "internalCode": 2009, "message": "Unauthorized"},
            AuthError,
        ),
        (403, envelope(3023, "Account blocked"), AuthError),
        (401, {}, AuthError),
        (413, envelope(3006, "Request too large"), InvalidInput),
        (422, {}, InvalidInput),
        (507, {}, ServerError),
        (302, {}, ServerError),
    ],
)
def test_each_documented_failure_gets_its_class(
    status: int, doc: Any, expected: type[JobError]
) -> None:
    assert type(failure(status, doc)) is expected


def test_errors_given_as_an_object_are_read() -> None:
    doc = {"success": False, "errors": {"code": 3040, "message": "Capacity temporarily exceeded"}}

    error = failure(429, doc)

    assert isinstance(error, RateLimited)
    assert "code 3040" in error.message


def test_a_code_leading_the_message_decides() -> None:
    doc = {
        "error": {
            "code": "internal_error",
            "message": "4006: you have used up your daily free allocation",
        }
    }

    assert isinstance(failure(429, doc), QuotaExceeded)
    assert isinstance(failure(500, doc), QuotaExceeded)


def test_a_code_given_as_a_string_decides() -> None:
    assert isinstance(failure(400, {"errors": [{"code": "3040", "message": "busy"}]}), RateLimited)


def test_a_final_code_outranks_a_transient_one() -> None:
    doc = {
        "success": False,
        "errors": [{"code": 3040, "message": "busy"}, {"code": 3036, "message": "quota"}],
    }

    assert isinstance(failure(429, doc), QuotaExceeded)


@pytest.mark.parametrize(
    "message",
    [
        "Prompt rejected by content moderation",
        "The input image was flagged",
        "Output contains sensitive content",
        "Request violates our content policy",
        "Blocked by safety checker",
        "NSFW content detected",
    ],
)
def test_moderation_wording_on_a_400_is_a_content_policy_refusal(message: str) -> None:
    assert isinstance(failure(400, envelope(5006, message)), ContentPolicy)
    assert isinstance(failure(400, {"error": {"message": message}}), ContentPolicy)


def test_moderation_wording_on_a_failed_200_is_a_refusal() -> None:
    doc = {
        "state": "Failed",
        "error": {"code": "content_filtered", "message": "Image flagged by moderation"},
    }

    assert isinstance(failure(200, doc), ContentPolicy)


def test_moderation_wording_does_not_turn_server_trouble_into_a_refusal() -> None:
    assert isinstance(
        failure(503, {"error": {"message": "safety service unavailable"}}), ServerError
    )


# --- messages ---------------------------------------------------------------------------------


def test_the_message_names_status_code_and_provider_text() -> None:
    error = failure(429, envelope(3040, "Capacity temporarily exceeded, please try again."))

    assert error.message == "HTTP 429 code 3040: Capacity temporarily exceeded, please try again."


def test_the_gateway_shape_message_names_its_internal_code() -> None:
    error = failure(
        401, {"name": "AiGatewayError", "internalCode": 2009, "message": "Unauthorized"}
    )

    assert error.message == "HTTP 401 code 2009: Unauthorized"


def test_a_non_json_error_body_is_quoted_on_one_line() -> None:
    body = b"<html>\n<head><title>502 Bad Gateway</title></head>\n</html>"

    with pytest.raises(ServerError) as raised:
        parse_response(502, "text/html", body, {}, SEEDREAM_40)

    assert (
        raised.value.message
        == "HTTP 502: <html> <head><title>502 Bad Gateway</title></head> </html>"
    )


def test_a_long_message_is_clipped() -> None:
    error = failure(400, envelope(5006, "x" * 5000))

    assert len(error.message) <= MAX_MESSAGE_CHARS
    assert error.message.startswith("HTTP 400 code 5006: xxx")


# --- Retry-After --------------------------------------------------------------------------------


def test_retry_after_in_seconds_rides_on_the_error() -> None:
    error = failure(429, envelope(3040, "busy"), {"Retry-After": "12.5"})

    assert isinstance(error, RateLimited)
    assert error.retry_after == 12.5


def test_retry_after_as_an_http_date_becomes_seconds() -> None:
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)

    error = failure(429, {}, {"retry-after": when})

    assert error.retry_after is not None
    assert 25 <= error.retry_after <= 31


def test_without_retry_after_the_error_carries_none() -> None:
    assert failure(429, {}).retry_after is None


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 3 ", 3.0),
        ("-5", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
        ("Wed, 21 Oct 2015 07:29:00 GMT", 60.0),
        ("soon", None),
        ("nan", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    now = datetime(2015, 10, 21, 7, 28, tzinfo=UTC)

    assert parse_retry_after(value, now=now) == seconds


# what AI Gateway really sends: `error` as a list, httpCode, spend limits, the deciding code

#: AI Gateway's exact answer to an over-rate call
OVER_RATE = {
    "success": False,
    "result": [],
    "error": [{"code": 2009, "message": "Unauthorized"}],
    "name": "AiGatewayError",
    "httpCode": 401,
    "internalCode": 2009,
}


def test_the_over_rate_answer_reads_error_as_a_list_and_its_code_once() -> None:
    error = failure(401, OVER_RATE)

    assert isinstance(error, AuthError)
    assert error.provider_code == 2009
    assert error.message == "HTTP 401 code 2009: Unauthorized"


@pytest.mark.parametrize(
    ("doc", "code"),
    [
        ({"error": [{"code": 3040, "message": "full"}, {"code": 5006, "message": "bad"}]}, 3040),
        ({"error": ["a plain message"]}, None),
        ({"errors": {"code": 3040, "message": "full"}}, 3040),
        ({"errors": [{"code": "3040", "message": "full"}]}, 3040),
        ({"error": {"code": "internal_error", "message": "4006: used up"}}, 4006),
        ({"name": "AiGatewayError", "internalCode": 2009, "message": "Unauthorized"}, 2009),
    ],
)
def test_every_shape_of_error_yields_its_deciding_code(doc: dict[str, Any], code: int) -> None:
    assert failure(429, doc).provider_code == code


def test_a_status_the_body_does_not_code_carries_no_provider_code() -> None:
    assert failure(503, {"error": "down"}).provider_code is None


def test_httpcode_stands_in_for_a_2xx_that_says_it_failed() -> None:
    error = failure(200, {"success": False, "httpCode": 429, "error": [{"message": "slow down"}]})

    assert isinstance(error, RateLimited)
    assert error.message.startswith("HTTP 429")


def test_the_wire_status_wins_over_a_disagreeing_httpcode() -> None:
    error = failure(502, {"success": False, "httpCode": 429, "error": [{"message": "proxied"}]})

    assert isinstance(error, ServerError)


@pytest.mark.parametrize(
    "message",
    ["Gateway spend limit exceeded", "spend_limit reached", "Your budget for this window is spent"],
)
def test_a_429_naming_a_spend_limit_is_quota(message: str) -> None:
    error = failure(429, {"success": False, "error": [{"message": message}]})

    assert isinstance(error, QuotaExceeded)


def test_a_plain_429_without_a_code_is_rate_limited() -> None:
    error = failure(429, {"success": False, "error": "Too Many Requests"})

    assert isinstance(error, RateLimited)
    assert error.provider_code is None


def test_a_capacity_429_carries_3040() -> None:
    error = failure(429, envelope(3040, "Capacity temporarily exceeded"))

    assert isinstance(error, RateLimited)
    assert error.provider_code == 3040
