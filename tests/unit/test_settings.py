"""Settings: names, defaults, and a token that never shows."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from config.settings import InvalidSettings, MissingSetting, Settings, env_name, get_settings


def test_cloudflare_variables_keep_their_names_and_product_ones_carry_the_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "sekret-token")
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "redis://127.0.0.1:6379/0")
    settings = Settings(_env_file=None)
    assert settings.account_id == "acct"
    assert not settings.embedded
    assert settings.require_api_credentials()[1].get_secret_value() == "sekret-token"


def test_the_token_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "sekret-token")
    settings = Settings(_env_file=None)
    assert "sekret-token" not in repr(settings)
    assert "sekret-token" not in str(settings)
    assert "sekret-token" not in settings.model_dump_json()


def test_a_missing_token_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(MissingSetting, match="CLOUDFLARE_API_TOKEN is not set"):
        Settings(_env_file=None).require_api_credentials()


def test_with_nothing_configured_the_mode_is_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDREAM_BROKER_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.embedded
    assert settings.database_url.startswith("sqlite")
    assert settings.api_base == "https://api.cloudflare.com"


def test_gateways_are_a_comma_separated_list_and_one_gateway_is_read_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOUDFLARE_GATEWAY_IDS", "g1, g2,,g3")
    assert Settings(_env_file=None).gateway_ids == ("g1", "g2", "g3")
    monkeypatch.delenv("CLOUDFLARE_GATEWAY_IDS")
    monkeypatch.setenv("CLOUDFLARE_GATEWAY_ID", "solo")
    assert Settings(_env_file=None).gateway_ids == ("solo",)


def test_the_rate_limit_defaults_to_cloudflares_and_can_be_switched_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert str(Settings(_env_file=None).rate_limit) == "200/60s"
    monkeypatch.setenv("SEEDREAM_RATE_LIMIT", "none")
    assert Settings(_env_file=None).rate_limit is None


def test_a_burst_larger_than_the_limit_is_refused_with_both_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDREAM_RATE_LIMIT", "10/60s")
    monkeypatch.setenv("SEEDREAM_RATE_BURST", "11")
    with pytest.raises(ValueError, match=r"SEEDREAM_RATE_BURST=11 .* 10 calls SEEDREAM_RATE_LIMIT"):
        Settings(_env_file=None)


def test_an_empty_variable_means_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEEDREAM_MAX_IN_FLIGHT", "")
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "")
    settings = Settings(_env_file=None)
    assert settings.max_in_flight is None
    assert settings.embedded


def test_the_limiter_lives_in_the_redis_broker_unless_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEEDREAM_LIMITER_URL", raising=False)
    monkeypatch.delenv("SEEDREAM_BROKER_URL", raising=False)
    assert Settings(_env_file=None).fleet_limiter_url() is None
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "redis://127.0.0.1:6379/0")
    assert Settings(_env_file=None).fleet_limiter_url() == "redis://127.0.0.1:6379/0"
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "amqp://guest@127.0.0.1//")
    with pytest.raises(MissingSetting, match="SEEDREAM_LIMITER_URL is not set"):
        Settings(_env_file=None).fleet_limiter_url()
    monkeypatch.setenv("SEEDREAM_LIMITER_URL", "redis://127.0.0.1:6380/1")
    assert Settings(_env_file=None).fleet_limiter_url() == "redis://127.0.0.1:6380/1"


#: every duration setting, and the name its variable had before durations named their unit
RENAMED_DURATIONS = [
    ("api_connect_timeout_seconds", "SEEDREAM_API_CONNECT_TIMEOUT"),
    ("api_timeout_seconds", "SEEDREAM_API_TIMEOUT"),
    ("fetch_timeout_seconds", "SEEDREAM_FETCH_TIMEOUT"),
]


#: what makes a setting's name a duration's
DURATION_WORDS = ("timeout", "interval", "lease", "retry_base", "retry_max")


def test_every_duration_names_its_unit_the_same_way() -> None:
    durations = [name for name in Settings.model_fields if any(w in name for w in DURATION_WORDS)]
    assert {name for name, _ in RENAMED_DURATIONS} < set(durations)
    assert all(name.endswith("_seconds") for name in durations), durations


@pytest.mark.parametrize(("field", "old_name"), RENAMED_DURATIONS)
def test_a_duration_is_set_by_its_new_name_and_by_its_old_one(
    monkeypatch: pytest.MonkeyPatch, field: str, old_name: str
) -> None:
    new_name = f"{old_name}_SECONDS"
    monkeypatch.delenv(old_name, raising=False)
    assert env_name(field) == new_name

    monkeypatch.setenv(new_name, "12.5")
    assert getattr(Settings(_env_file=None), field) == 12.5
    monkeypatch.delenv(new_name)
    monkeypatch.setenv(old_name, "7")
    assert getattr(Settings(_env_file=None), field) == 7.0


@pytest.mark.parametrize(("field", "old_name"), RENAMED_DURATIONS)
def test_with_both_names_set_the_new_one_wins(
    monkeypatch: pytest.MonkeyPatch, field: str, old_name: str
) -> None:
    monkeypatch.setenv(old_name, "7")
    monkeypatch.setenv(f"{old_name}_SECONDS", "12.5")

    assert getattr(Settings(_env_file=None), field) == 12.5


def test_an_old_name_in_dotenv_still_works(
    settings_here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEEDREAM_API_TIMEOUT_SECONDS", raising=False)
    monkeypatch.delenv("SEEDREAM_API_TIMEOUT", raising=False)
    settings_here.write_text("SEEDREAM_API_TIMEOUT=42\n")

    assert get_settings().api_timeout_seconds == 42.0


def test_a_bad_duration_is_refused_by_its_new_name(
    settings_here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SEEDREAM_FETCH_TIMEOUT_SECONDS", raising=False)
    monkeypatch.setenv("SEEDREAM_FETCH_TIMEOUT", "soon")

    with pytest.raises(InvalidSettings, match="SEEDREAM_FETCH_TIMEOUT_SECONDS: Input should be"):
        get_settings()


@pytest.mark.parametrize("around", ["\n", " ", "\t", "\r", "\r\n", " \t\n"])
def test_a_secret_with_whitespace_around_it_is_stripped(
    monkeypatch: pytest.MonkeyPatch, around: str
) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", f"{around}tok-123{around}")
    monkeypatch.setenv("SEEDREAM_WEBHOOK_SECRET", f"whsec{around}")
    monkeypatch.setenv("SEEDREAM_BROKER_URL", f"redis://:pw@127.0.0.1:6379/0{around}")

    settings = Settings(_env_file=None)

    assert settings.api_token is not None
    assert settings.api_token.get_secret_value() == "tok-123"
    assert settings.webhook_secret is not None
    assert settings.webhook_secret.get_secret_value() == "whsec"
    assert settings.broker_url == "redis://:pw@127.0.0.1:6379/0"


@pytest.fixture
def settings_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A working folder whose `.env` the process's settings read (it can hold a NUL, which the
    environment cannot); settings are read anew on both sides of the test."""
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield tmp_path / ".env"
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CLOUDFLARE_API_TOKEN", "tok\x00en"),
        ("CLOUDFLARE_API_TOKEN", "tok\x1ben"),
        ("CLOUDFLARE_API_TOKEN", "tok\u00e9n"),
        ("SEEDREAM_WEBHOOK_SECRET", "wh\x7fsec"),
        ("SEEDREAM_DATABASE_URL", "postgresql://u:p\x00w@h/db"),
    ],
)
def test_a_secret_with_a_control_or_non_ascii_character_is_refused_by_name_not_value(
    settings_here: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.delenv(variable, raising=False)
    settings_here.write_text(f"{variable}='{value}'\n")

    with pytest.raises(InvalidSettings) as refused:
        get_settings()

    message = str(refused.value)
    assert message.startswith(f"invalid settings: {variable}: ")
    assert value.strip() not in message
    assert "input" not in message


def test_a_validation_error_names_the_variables_and_problems_but_no_input(
    settings_here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDREAM_WEBHOOK_SECRET", "whsec-do-not-print")
    monkeypatch.setenv("SEEDREAM_MAX_ATTEMPTS", "many")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok\x01en")

    with pytest.raises(InvalidSettings) as refused:
        get_settings()

    message = str(refused.value)
    assert message.startswith("invalid settings: ")
    assert "\n" not in message
    assert "SEEDREAM_MAX_ATTEMPTS: Input should be a valid integer" in message
    assert "CLOUDFLARE_API_TOKEN: holds a control character" in message
    assert "whsec" not in message
    assert "many" not in message
    assert "tok" not in message


def test_a_burst_over_the_limit_is_told_without_the_other_settings(
    settings_here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEEDREAM_WEBHOOK_SECRET", "whsec-do-not-print")
    monkeypatch.setenv("SEEDREAM_RATE_BURST", "1000")

    with pytest.raises(InvalidSettings) as refused:
        get_settings()

    assert str(refused.value) == (
        "invalid settings: SEEDREAM_RATE_BURST=1000 is more than the 200 calls "
        "SEEDREAM_RATE_LIMIT allows in a window"
    )
