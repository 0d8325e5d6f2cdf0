"""A test's or a benchmark's child process starts from `clean_env`: none of the developer's
seedream or Cloudflare settings, only those its caller sets."""

import os

import pytest

from tests.support.processes import PRODUCT_VARIABLE_PREFIXES, clean_env


def test_a_child_gets_no_product_setting_but_the_ones_its_caller_sets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SEEDREAM_OUTPUT", "s3://someone-elses/bucket")
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "a-real-token")
    monkeypatch.setenv("SEEDREAM_TEST_KEPT_OUT_TOO", "1")
    monkeypatch.setenv("UNRELATED_SETTING", "kept")

    env = clean_env(SEEDREAM_DATABASE_URL="sqlite:///x.db")

    assert env["UNRELATED_SETTING"] == "kept"
    assert {k: v for k, v in env.items() if k.startswith(PRODUCT_VARIABLE_PREFIXES)} == {
        "SEEDREAM_DATABASE_URL": "sqlite:///x.db"
    }


def test_the_fixture_is_this_environment_without_product_settings(
    child_env: dict[str, str],
) -> None:
    assert [name for name in child_env if name.startswith(PRODUCT_VARIABLE_PREFIXES)] == []
    assert child_env["PATH"] == os.environ["PATH"]
