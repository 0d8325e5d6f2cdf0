"""Redaction: every configured secret, and every URL's query and password, masked in what the
results table records and what the process logs."""

import logging

import httpx
import pytest

from config.settings import Settings
from jobs.errors import AuthError, InvalidInput
from jobs.redaction import (
    MASK,
    describe_error,
    install_log_redaction,
    redact,
    register_secrets,
)
from jobs.results import ResultsTable
from tests.support.tables import loaded

TOKEN = "cf-token-Zq81nWm3"
SECRETS = {
    "CLOUDFLARE_API_TOKEN": TOKEN,
    "AWS_SECRET_ACCESS_KEY": "s3-secret-Yb62kPq9",
    "AWS_SESSION_TOKEN": "s3-session-Hh20aaQ1",
    "SEEDREAM_WEBHOOK_SECRET": "whsec-Lm55oRt7",
}
BROKER_PASSWORD, LIMITER_PASSWORD, DB_PASSWORD = "redis-pw-Ac91", "limit-pw-Xx07", "db/pw@Tt44"
URLS = {
    "SEEDREAM_BROKER_URL": f"redis://:{BROKER_PASSWORD}@127.0.0.1:6379/0",
    "SEEDREAM_LIMITER_URL": f"redis://default:{LIMITER_PASSWORD}@127.0.0.1:6380/0",
    # a password with URL-special characters sits in the URL percent-encoded
    "SEEDREAM_DATABASE_URL": "postgresql+psycopg://app:db%2Fpw%40Tt44@127.0.0.1/seedream",
    "SEEDREAM_WEBHOOK_URL": "http://127.0.0.1:9/hooks/T0/B0/hook-key-Pp31",
}
EVERY_SECRET = [
    *SECRETS.values(),
    BROKER_PASSWORD,
    LIMITER_PASSWORD,
    DB_PASSWORD,
    "db%2Fpw%40Tt44",
    # a webhook URL may carry its key in the path: the whole URL is a secret
    URLS["SEEDREAM_WEBHOOK_URL"],
]


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> None:
    """The secrets above, registered as the process's settings register theirs."""
    for name, value in {**SECRETS, **URLS}.items():
        monkeypatch.setenv(name, value)
    register_secrets(Settings(_env_file=None).secret_values())


@pytest.mark.parametrize("secret", EVERY_SECRET)
def test_each_kind_of_configured_secret_is_masked(secret: str) -> None:
    text = f"failed: {secret}; again ({secret})"

    assert redact(text) == f"failed: {MASK}; again ({MASK})"


def test_a_url_keeps_its_host_and_path_but_not_its_password_or_query() -> None:
    text = (
        "GET https://cdn.test/img/1.jpeg?X-Amz-Signature=ab12&X-Amz-Credential=k then ftp://u:p@h/x"
    )

    assert redact(text) == (f"GET https://cdn.test/img/1.jpeg?{MASK} then ftp://u:{MASK}@h/x")


def test_authorization_credentials_are_masked_even_when_not_configured() -> None:
    text = (
        "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AK/x, SignedHeaders=host, "
        "Signature=24d0d2fe'} Authorization: Bearer abc.def-1 or Basic dXNlcjpwdw== (Basic auth)"
    )

    assert redact(text) == (
        "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AK/x, SignedHeaders=host, "
        f"Signature={MASK}'}} Authorization: Bearer {MASK} or Basic {MASK} (Basic auth)"
    )


def test_an_exception_is_described_by_its_type_and_redacted_text_never_its_repr() -> None:
    # what httpx raises on a token that ends in a newline, as the issue saw it
    exc = httpx.LocalProtocolError(f"Illegal header value b'Bearer {TOKEN}\\n'")

    described = describe_error(exc)

    assert described == f"LocalProtocolError: Illegal header value b'Bearer {MASK}\\n'"
    assert describe_error(httpx.ReadTimeout("")) == "ReadTimeout"


def test_a_recorded_error_message_and_pause_reason_hold_no_secret(table: ResultsTable) -> None:
    first, second = loaded(table, "a", "b")
    leaky = " ".join(EVERY_SECRET)
    for job_id, error in ((first, InvalidInput(leaky)), (second, AuthError(leaky))):
        claim = table.claim(job_id, "w", 60)
        assert claim is not None
        table.record_failure(claim, "w", error, max_attempts=5, retry_in=0)

    with table.engine.connect() as conn:
        recorded = [
            *conn.exec_driver_sql("SELECT error_message FROM jobs").scalars(),
            *conn.exec_driver_sql("SELECT error_message FROM attempts").scalars(),
            *conn.exec_driver_sql("SELECT paused_reason FROM batches").scalars(),
        ]
    assert len(recorded) == 5
    assert all(MASK in text for text in recorded)
    assert not [s for s in EVERY_SECRET for text in recorded if s in text]


def test_log_records_are_masked_whatever_the_handler_and_httpx_is_kept_quiet(
    caplog: pytest.LogCaptureFixture,
) -> None:
    install_log_redaction()
    log = logging.getLogger("tests.redaction")

    with caplog.at_level(logging.DEBUG):
        log.warning("connecting to %s", URLS["SEEDREAM_BROKER_URL"])
        try:
            raise RuntimeError(f"boom with {SECRETS['AWS_SECRET_ACCESS_KEY']}")
        except RuntimeError:
            log.exception("job failed")
        logging.getLogger("httpx").info("HTTP Request: GET https://cdn.test/x?sig=1")

    assert BROKER_PASSWORD not in caplog.text
    assert "s3-secret" not in caplog.text
    assert "RuntimeError: boom with [redacted]" in caplog.text
    assert "sig=1" not in caplog.text
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING
