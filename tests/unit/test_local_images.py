"""An `image` given as a path: read only from under the manifest's folder, sent as a data URI."""

import base64
import os
from pathlib import Path

import pytest

from jobs.models.input_rules import MAX_INPUT_IMAGE_BYTES
from producer.local_images import is_local_path
from tests.support.images import image_bytes
from tests.support.rows import (
    jsonl,
    only_job,
    only_rejection,
    problems,
    rows,
    seedream40,
    write,
)

ALLOWED = "use a JPEG or PNG file of at most 10 MB inside the manifest's folder"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The manifest's folder, with refs/cat.png and cat.jpg in it, beside a secret outside it."""
    inside = tmp_path / "manifests"
    (inside / "refs").mkdir(parents=True)
    (inside / "refs" / "cat.png").write_bytes(image_bytes("PNG", (64, 48)))
    (inside / "cat.jpg").write_bytes(image_bytes("JPEG", (48, 64)))
    (tmp_path / "secret.png").write_bytes(image_bytes("PNG", (64, 48)))
    return inside


def image_problem(folder: Path, image: str) -> str:
    path = write(folder, "m.jsonl", jsonl({"prompt": "edit it", "image": image}))
    found = problems(only_rejection(path))
    assert set(found) == {"image"}, found
    return found["image"]


@pytest.mark.parametrize(
    ("image", "media_type", "name"),
    [
        ("refs/cat.png", "image/png", "refs/cat.png"),
        ("./cat.jpg", "image/jpeg", "cat.jpg"),
        ("refs/../cat.jpg", "image/jpeg", "cat.jpg"),
    ],
)
def test_a_relative_path_becomes_a_data_uri_of_the_file(
    folder: Path, image: str, media_type: str, name: str
) -> None:
    job = only_job(write(folder, "m.jsonl", jsonl({"prompt": "edit it", "image": image})))
    given = seedream40(job)
    assert given.image is not None
    prefix = f"data:{media_type};base64,"
    assert given.image.startswith(prefix)
    assert base64.b64decode(given.image.removeprefix(prefix)) == (folder / name).read_bytes()
    assert given.payload()["image"] == given.image


def test_a_csv_cell_path_is_read_the_same_way(folder: Path) -> None:
    job = only_job(write(folder, "m.csv", "prompt,image\nedit it,refs/cat.png\n"))
    given = seedream40(job)
    assert given.image is not None
    assert given.image.startswith("data:image/png;base64,")


def test_an_absolute_path_inside_the_folder_is_read(folder: Path) -> None:
    job = only_job(
        write(folder, "m.jsonl", jsonl({"prompt": "a", "image": str(folder / "cat.jpg")}))
    )
    given = seedream40(job)
    assert given.image is not None
    assert given.image.startswith("data:image/jpeg;base64,")


def test_a_path_is_resolved_against_the_manifest_not_the_working_folder(
    folder: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(folder, "m.jsonl", jsonl({"prompt": "a", "image": "cat.jpg"}))
    assert seedream40(only_job(path.relative_to(tmp_path))).image is not None


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        ("../secret.png", "is outside the manifest's folder (after following links)"),
        ("refs/../../secret.png", "is outside the manifest's folder (after following links)"),
        ("/etc/passwd", "is outside the manifest's folder (after following links)"),
        ("../no-such.png", "is outside the manifest's folder (after following links)"),
        ("missing.png", "does not exist"),
        ("refs", "is a directory"),
        ("refs/", "is a directory"),
    ],
)
def test_a_path_that_leaves_the_folder_or_names_no_file_is_refused(
    folder: Path, image: str, problem: str
) -> None:
    assert image_problem(folder, image) == f"{image!r} {problem}; {ALLOWED}"


def test_a_symlink_pointing_outside_the_folder_is_refused(folder: Path, tmp_path: Path) -> None:
    (folder / "link.png").symlink_to(tmp_path / "secret.png")
    (folder / "refs" / "up").symlink_to(tmp_path)
    for image in ("link.png", "refs/up/secret.png"):
        assert image_problem(folder, image) == (
            f"{image!r} is outside the manifest's folder (after following links); {ALLOWED}"
        )


def test_a_symlink_that_stays_inside_the_folder_is_followed(folder: Path) -> None:
    (folder / "alias.png").symlink_to(folder / "refs" / "cat.png")
    job = only_job(write(folder, "m.jsonl", jsonl({"prompt": "a", "image": "alias.png"})))
    given = seedream40(job)
    assert given.image is not None
    assert given.image.startswith("data:image/png;base64,")


def test_a_fifo_is_refused_without_blocking(folder: Path) -> None:
    os.mkfifo(folder / "pipe.png")
    assert image_problem(folder, "pipe.png") == f"'pipe.png' is not a regular file; {ALLOWED}"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"<html>not an image</html>", "is not a JPEG or PNG image"),
        (image_bytes("GIF", (10, 10)), "is not a JPEG or PNG image"),
        (b"", "is not a JPEG or PNG image"),
        (
            image_bytes("PNG", (400, 100)),
            "cannot be sent: input image aspect ratio 400x100 is outside 1:3..3:1",
        ),
        (b"\x89PNG broken", "cannot be sent: input image could not be read as JPEG or PNG"),
    ],
)
def test_a_file_that_is_not_an_acceptable_jpeg_or_png_is_refused(
    folder: Path, content: bytes, problem: str
) -> None:
    (folder / "bad.png").write_bytes(content)
    assert image_problem(folder, "bad.png") == f"'bad.png' {problem}; {ALLOWED}"


def test_a_file_over_10_mb_is_refused_unread(folder: Path) -> None:
    with (folder / "big.png").open("wb") as big:
        big.write(image_bytes("PNG", (64, 48)))
        big.truncate(MAX_INPUT_IMAGE_BYTES + 1)
    assert image_problem(folder, "big.png") == (
        f"'big.png' is {MAX_INPUT_IMAGE_BYTES + 1} bytes; {ALLOWED}"
    )


def test_a_refused_image_still_lets_the_other_fields_be_judged(folder: Path) -> None:
    path = write(
        folder,
        "m.jsonl",
        jsonl({"prompt": "a", "image": "../secret.png", "aspect_ratio": "match_input_image"})
        + jsonl({"prompt": "a", "image": "missing.png", "size": "5K"}),
    )
    first, second = rows(path)
    assert set(problems(first)) == {"image"}
    assert set(problems(second)) == {"image", "size"}


@pytest.mark.parametrize(
    ("value", "local"),
    [
        ("refs/cat.png", True),
        ("./cat.jpg", True),
        ("/abs/cat.jpg", True),
        ("cat", True),
        ("https://example.com/cat.png", False),
        ("data:image/png;base64,AAAA", False),
        ("ftp://host/cat.png", False),
        ("", False),
        ("  ", False),
    ],
)
def test_only_a_value_without_a_scheme_is_a_path(value: str, local: bool) -> None:
    assert is_local_path(value) is local
