"""Batch names: one check for `--batch`, schedule names and the names schedules make."""

import pytest

from jobs.batch_names import validate_name


@pytest.mark.parametrize("name", ["nl\n", "nl\r\n", "\nnl", "a/b", "", "-x", "x" * 101])
def test_a_batch_name_with_a_newline_or_a_slash_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"batch name .* is not allowed"):
        validate_name(name)


@pytest.mark.parametrize("name", ["spring-2026-05-01", "_x", "a.b_c-d", "x" * 100])
def test_a_batch_name_of_the_allowed_alphabet_is_kept(name: str) -> None:
    assert validate_name(name) == name


def test_the_refusal_names_what_was_checked() -> None:
    with pytest.raises(ValueError, match=r"^schedule name 'nl\\n' is not allowed"):
        validate_name("nl\n", "schedule name")
