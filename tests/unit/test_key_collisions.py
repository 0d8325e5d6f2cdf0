"""Keys that differ but would land on the same path in storage are refused when read, naming
both lines; a key given twice is refused as a duplicate, naming the first line."""

from pathlib import Path

import pytest

from jobs.keys import OUTPUT_EXTENSIONS
from jobs.quoting import quoted
from jobs.spec import JobSpec
from producer.key_collisions import KeyCollisions
from tests.support.images import image_bytes, spooled
from tests.support.rows import jsonl, problems, rows, write
from worker.images import inspect_image


def _keys(*keys: str) -> list[dict[str, object]]:
    return [{"id": key, "prompt": f"picture {n}"} for n, key in enumerate(keys)]


def test_keys_differing_only_in_case_are_refused_naming_both_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", jsonl(*_keys("Hero", "a", "hero")))

    first, _, clash = rows(path)

    assert isinstance(first, JobSpec)
    assert str(clash) == (
        f"{path}:3: id: 'hero' collides with 'Hero' on line 1 (keys differ only in case); "
        "case-insensitive storage keeps one file for both: rename one"
    )


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (("x", "x.jpg/y"), "'x.jpg/y' collides with 'x' on line 1: that key's image x.jpg would "
         "be a folder of this key's path"),
        (("x.png/y/z", "x"), "'x' collides with 'x.png/y/z' on line 1: this key's image x.png "
         "would be a folder of that key's path"),
        (("a/x.jpg/b", "A/X"), "'A/X' collides with 'a/x.jpg/b' on line 1: this key's image "
         "A/X.jpg would be a folder of that key's path"),
        (("a/X", "a/x.webp/b"), "'a/x.webp/b' collides with 'a/X' on line 1: that key's image "
         "a/X.webp would be a folder of this key's path"),
    ],
)  # fmt: skip
def test_a_key_whose_image_would_be_another_keys_folder_is_refused(
    tmp_path: Path, keys: tuple[str, str], message: str
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl(*_keys(*keys)))

    first, clash = rows(path)

    assert isinstance(first, JobSpec)
    assert problems(clash) == {"id": message}


@pytest.mark.parametrize(
    "keys", [("a", "a/b"), ("a/b", "A/c"), ("x", "x.jpg"), ("x", "x.gif/y"), ("x.jpg", "x.jpg/y")]
)
def test_keys_that_stay_apart_in_storage_are_kept(tmp_path: Path, keys: tuple[str, str]) -> None:
    path = write(tmp_path, "m.jsonl", jsonl(*_keys(*keys)))

    assert all(isinstance(row, JobSpec) for row in rows(path))


def test_a_repeated_key_is_refused_with_the_line_that_has_it_first() -> None:
    seen = KeyCollisions()

    assert seen.add("hero", 1) is None
    assert seen.add("hero", 2) == (
        "duplicate key 'hero': line 1 has it already; keys must be unique in a batch"
    )
    assert seen.add("Hero", 3) == (
        "'Hero' collides with 'hero' on line 1 (keys differ only in case); case-insensitive "
        "storage keeps one file for both: rename one"
    )
    # a refused key is not recorded: the same spelling again still collides with line 1
    again = seen.add("Hero", 4)
    assert again is not None
    assert again.startswith("'Hero' collides with 'hero' on line 1")


def test_a_key_first_seen_in_mixed_case_is_named_as_it_was_spelled_on_any_later_line() -> None:
    seen = KeyCollisions()
    first = "SKU-01/Spring/" + "x" * 150 + "Z"

    assert seen.add(first, 7_000_000_001) is None
    assert seen.add(first, 7_000_000_002) == (
        f"duplicate key {quoted(first)}: line 7000000001 has it already; keys must be unique in "
        "a batch"
    )
    assert seen.add(first.lower(), 3) == (
        f"{quoted(first.lower())} collides with {quoted(first)} on line 7000000001 (keys differ "
        "only in case); case-insensitive storage keeps one file for both: rename one"
    )


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_every_extension_the_worker_stores_is_checked(fmt: str) -> None:
    with spooled(image_bytes(fmt)) as file:
        assert inspect_image(file).extension in OUTPUT_EXTENSIONS
