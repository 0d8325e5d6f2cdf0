"""Values quoted in messages: whole when short, their start only when long."""

from pathlib import Path

import pytest

from jobs.batch_names import validate_name
from jobs.quoting import QUOTED_CHARS, quoted
from producer.local_images import LocalImageError, local_image_as_data_uri


def test_a_short_value_is_quoted_whole_with_its_escapes() -> None:
    assert quoted("nl\n") == "'nl\\n'"


def test_a_long_value_is_quoted_by_its_start() -> None:
    assert quoted("x" * 10_000_000) == repr("x" * QUOTED_CHARS + "…")


def test_a_huge_batch_name_is_quoted_by_its_start() -> None:
    with pytest.raises(ValueError, match="is not allowed") as refused:
        validate_name("/" * 200_000_000)
    assert str(refused.value).startswith(f"batch name {quoted('/' * QUOTED_CHARS + '…')} is not")
    assert len(str(refused.value)) < 300


def test_a_huge_local_image_path_is_quoted_by_its_start(tmp_path: Path) -> None:
    with pytest.raises(LocalImageError) as refused:
        local_image_as_data_uri("a/" * 1_000, tmp_path)
    assert len(str(refused.value)) < 300
