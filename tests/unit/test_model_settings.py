"""The model and price settings: SEEDREAM_MODEL is a supported model, SEEDREAM_PRICES prices
models by name, SEEDREAM_PRICE_PER_IMAGE prices SEEDREAM_MODEL, the adapter's estimate the rest."""

import pytest

from config.settings import InvalidSettings, Settings, get_settings
from jobs.models import MODELS


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_an_unsupported_model_is_refused_listing_the_supported_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDREAM_MODEL", "bytedance/seedream-9")
    get_settings.cache_clear()
    with pytest.raises(InvalidSettings) as caught:
        get_settings()
    get_settings.cache_clear()
    assert str(caught.value) == (
        "invalid settings: SEEDREAM_MODEL: 'bytedance/seedream-9' is not a model this version "
        "supports: use one of "
        f"{', '.join(MODELS)}"
    )


def test_with_no_price_set_each_model_costs_its_adapters_estimate(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SEEDREAM_PRICE_PER_IMAGE", raising=False)
    monkeypatch.delenv("SEEDREAM_PRICES", raising=False)
    configured = Settings(_env_file=None)
    assert configured.price_for("bytedance/seedream-4.0") == 0.03
    assert configured.price_for("bytedance/seedream-4.5") == 0.04


def test_prices_name_models_and_price_per_image_prices_seedream_model_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configured = settings(
        monkeypatch,
        SEEDREAM_MODEL="bytedance/seedream-4.0",
        SEEDREAM_PRICE_PER_IMAGE="0.025",
        SEEDREAM_PRICES='{"bytedance/seedream-4.5": 0.045}',
    )
    assert configured.price_for("bytedance/seedream-4.0") == 0.025
    assert configured.price_for("bytedance/seedream-4.5") == 0.045


def test_price_per_image_does_not_price_another_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEEDREAM_PRICES", raising=False)
    configured = settings(monkeypatch, SEEDREAM_PRICE_PER_IMAGE="0.01")
    assert configured.price_for("bytedance/seedream-4.5") == 0.04


def test_two_different_prices_for_seedream_model_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(ValueError, match=r"PRICE_PER_IMAGE=0.02 and SEEDREAM_PRICES \(0.03\)"):
        settings(
            monkeypatch,
            SEEDREAM_MODEL="bytedance/seedream-4.0",
            SEEDREAM_PRICE_PER_IMAGE="0.02",
            SEEDREAM_PRICES='{"bytedance/seedream-4.0": 0.03}',
        )


@pytest.mark.parametrize(
    ("prices", "problem"),
    [
        ("0.04", "is not a JSON object of model name to USD per image"),
        ("{not json", "is not a JSON object of model name to USD per image"),
        ('{"flux": 0.01}', "'flux': not a model this version supports"),
        ('{"bytedance/seedream-4.5": -1}', "greater than or equal to 0"),
    ],
)
def test_bad_prices_are_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, prices: str, problem: str
) -> None:
    monkeypatch.setenv("SEEDREAM_PRICES", prices)
    get_settings.cache_clear()
    with pytest.raises(InvalidSettings) as caught:
        get_settings()
    get_settings.cache_clear()
    assert "SEEDREAM_PRICES" in str(caught.value)
    assert problem in str(caught.value)
