"""Settings: names, defaults, and a token that never shows."""

import pytest

from config.settings import MissingSetting, Settings


def test_cloudflare_variables_keep_their_names_and_product_ones_carry_the_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "sekret-token")
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "acct")
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "redis://127.0.0.1:6379/0")
    settings = Settings(_env_file=None)
    assert settings.account_id == "acct" and not settings.embedded
    assert settings.require_api_credentials()[1].get_secret_value() == "sekret-token"


def test_the_token_is_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "sekret-token")
    settings = Settings(_env_file=None)
    assert "sekret-token" not in repr(settings) and "sekret-token" not in str(settings)
    assert "sekret-token" not in settings.model_dump_json()


def test_a_missing_token_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    with pytest.raises(MissingSetting, match="CLOUDFLARE_API_TOKEN is not set"):
        Settings(_env_file=None).require_api_credentials()


def test_with_nothing_configured_the_mode_is_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDREAM_BROKER_URL", raising=False)
    settings = Settings(_env_file=None)
    assert settings.embedded and settings.database_url.startswith("sqlite")
    assert settings.api_base == "https://api.cloudflare.com"
