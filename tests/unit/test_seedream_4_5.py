"""Seedream 4.5's adapter: its input rules (worded like 4.0's), how many images a call may
return and is billed for, its answer, its export columns and the sizes it draws."""

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from jobs.models import MODELS, model_named
from jobs.models.input_rules import AspectRatio
from jobs.models.output_sizes import MAX_OUTPUT_PIXELS, MAX_OUTPUT_SIDE, RECOMMENDED_2K_SIZES
from jobs.models.seedream_4_0 import Seedream40Input, output_dimensions
from jobs.models.seedream_4_5 import (
    MAX_IMAGES_PER_CALL,
    MAX_INPUT_IMAGES,
    Seedream45Input,
)
from tests.support.images import image_bytes

SEEDREAM_45 = model_named("bytedance/seedream-4.5")
URL = "https://example.com/in.png"


def parsed(**given: Any) -> Seedream45Input:
    spec = SEEDREAM_45.parse_input({"prompt": "a fox", **given})
    assert isinstance(spec, Seedream45Input)
    return spec


def refusal(**given: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        parsed(**given)
    return "; ".join(error["msg"].removeprefix("Value error, ") for error in caught.value.errors())


def data_uri(size: tuple[int, int] = (40, 30)) -> str:
    return "data:image/png;base64," + base64.b64encode(image_bytes("PNG", size)).decode()


def test_both_seedream_models_are_discovered_by_name() -> None:
    assert {"bytedance/seedream-4.0", "bytedance/seedream-4.5"} <= set(MODELS)


def test_every_field_of_the_catalog_is_accepted() -> None:
    spec = parsed(
        size="4K",
        aspect_ratio="16:9",
        image_input=[URL, data_uri()],
        max_images=3,
        sequential_image_generation="auto",
        disable_safety_checker=True,
    )
    assert spec.payload() == {
        "prompt": "a fox",
        "size": "4K",
        "aspect_ratio": "16:9",
        "image_input": [URL, data_uri()],
        "max_images": 3,
        "sequential_image_generation": "auto",
        "disable_safety_checker": True,
    }


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"size": "1K"}, "Input should be '2K' or '4K'"),
        ({"size": "custom"}, "Input should be '2K' or '4K'"),
        ({"width": 2048}, "Extra inputs are not permitted"),
        ({"image": URL}, "Extra inputs are not permitted"),
        ({"max_images": 0}, "Input should be greater than or equal to 1"),
        ({"max_images": 16}, "Input should be less than or equal to 15"),
        ({"sequential_image_generation": "always"}, "Input should be 'disabled' or 'auto'"),
        ({"image_input": []}, "List should have at least 1 item after validation, not 0"),
        (
            {"image_input": [URL] * (MAX_INPUT_IMAGES + 1)},
            "List should have at most 14 items after validation, not 15",
        ),
        (
            {"image_input": [URL, "ftp://example.com/a.png"]},
            "image 2 of 2: must be an http(s) URL or a data:image/jpeg|png;base64 URI, got "
            "'ftp://example.com/a.png'",
        ),
        (
            {"image_input": ["https://example.com/a b.png"]},
            "image 1 of 1: URL contains U+0020 at character 22; a URL has no spaces or control "
            "characters (write a space as %20)",
        ),
        (
            {"image_input": ["data:image/gif;base64,R0lG"]},
            "image 1 of 1: a data URI must be data:image/jpeg;base64,... or "
            "data:image/png;base64,...",
        ),
        (
            {"image_input": [data_uri((400, 100))]},
            "image 1 of 1: input image aspect ratio 400x100 is outside 1:3..3:1",
        ),
        (
            {"aspect_ratio": "match_input_image"},
            "aspect_ratio 'match_input_image' needs an image_input",
        ),
        ({"prompt": "  "}, "must not be blank"),
    ],
)
def test_a_field_error_says_what_is_wrong(given: dict[str, Any], message: str) -> None:
    assert refusal(**given) == message


def test_inline_images_together_weigh_at_most_one_inline_image() -> None:
    big = "data:image/png;base64," + "A" * (8 * 1024 * 1024)
    assert refusal(image_input=[big, big, URL]) == (
        "its inline images (data URIs) weigh about 12.0 MB together; at most 10 MB of images are "
        "sent inline in one call: give the others as URLs"
    )


def test_auto_without_max_images_is_refused_as_its_worst_case_is_unknown() -> None:
    assert refusal(sequential_image_generation="auto") == (
        "sequential_image_generation 'auto' needs max_images (1 to 15): the model decides how "
        "many images to make and each is billed, so the row says how many it may pay for"
    )


@pytest.mark.parametrize("sequential", [None, "disabled"])
def test_max_images_above_one_without_auto_is_refused(sequential: str | None) -> None:
    given: dict[str, Any] = {"max_images": 2}
    if sequential is not None:
        given["sequential_image_generation"] = sequential
    assert refusal(**given) == (
        "max_images above 1 needs sequential_image_generation 'auto': without it the model "
        "makes one image"
    )


def test_input_and_generated_images_together_are_at_most_fifteen() -> None:
    assert (
        refusal(image_input=[URL] * 10, max_images=6, sequential_image_generation="auto")
        == "image_input holds 10 images and max_images asks for 6: together at most 15 are allowed"
    )
    parsed(image_input=[URL] * 10, max_images=5, sequential_image_generation="auto")
    parsed(image_input=[URL] * MAX_INPUT_IMAGES)


@pytest.mark.parametrize(
    ("given", "most"),
    [
        ({}, 1),
        ({"sequential_image_generation": "disabled"}, 1),
        ({"max_images": 1}, 1),
        ({"max_images": 4, "sequential_image_generation": "auto"}, 4),
        ({"max_images": MAX_IMAGES_PER_CALL, "sequential_image_generation": "auto"}, 15),
    ],
)
def test_most_images_is_max_images_when_given_else_one(given: dict[str, Any], most: int) -> None:
    assert SEEDREAM_45.most_images(parsed(**given)) == most


def test_auto_answers_between_one_and_max_images_the_same_for_the_same_prompt() -> None:
    counts = {
        SEEDREAM_45.images_answered(
            SEEDREAM_45.parse_input(
                {"prompt": f"fox {n}", "max_images": 4, "sequential_image_generation": "auto"}
            )
        )
        for n in range(40)
    }
    assert counts == {1, 2, 3, 4}
    spec = parsed(max_images=4, sequential_image_generation="auto")
    assert SEEDREAM_45.images_answered(spec) == SEEDREAM_45.images_answered(spec)


def test_disabled_answers_one_image() -> None:
    assert SEEDREAM_45.images_answered(parsed(sequential_image_generation="disabled")) == 1


def test_the_answer_is_always_a_list_of_images_each_read_back() -> None:
    result = SEEDREAM_45.answer_result(["https://cdn/a.jpeg"])
    assert result == {"images": ["https://cdn/a.jpeg"]}
    two = SEEDREAM_45.answer_result(["https://cdn/a.jpeg", "https://cdn/b.jpeg"])
    assert SEEDREAM_45.answer_images(two) == ["https://cdn/a.jpeg", "https://cdn/b.jpeg"]


def test_the_export_row_counts_input_images_and_never_shows_a_payload() -> None:
    spec = parsed(
        image_input=[URL, data_uri()], max_images=2, sequential_image_generation="auto"
    ).payload()
    row = SEEDREAM_45.export_row(spec)
    assert list(row) == [name for name, _ in SEEDREAM_45.export_columns]
    assert row["input_image_count"] == 2
    assert row["input_images"] == f"{URL} inline"
    assert row["max_images"] == 2
    assert row["sequential_image_generation"] == "auto"
    assert "base64" not in str(row)


def test_a_row_without_input_images_exports_none_of_them() -> None:
    row = SEEDREAM_45.export_row(parsed().payload())
    assert row["input_image_count"] == 0
    assert row["input_images"] is None


@pytest.mark.parametrize(
    "ratio", [r for r in AspectRatio if r is not AspectRatio.match_input_image]
)
def test_2k_is_seedreams_recommended_size_and_4k_doubles_it_uncapped(ratio: AspectRatio) -> None:
    width, height = RECOMMENDED_2K_SIZES[ratio]
    assert SEEDREAM_45.output_size(parsed(aspect_ratio=ratio.value)) == (width, height)
    four_k = SEEDREAM_45.output_size(parsed(size="4K", aspect_ratio=ratio.value))
    assert four_k == (2 * width, 2 * height)
    assert max(four_k) <= MAX_OUTPUT_SIDE
    assert four_k[0] * four_k[1] <= MAX_OUTPUT_PIXELS


def test_2k_matches_4_0s_2k_size_for_every_ratio() -> None:
    for ratio in AspectRatio:
        given = {"prompt": "a", "aspect_ratio": ratio.value}
        seedream_40 = Seedream40Input.model_validate({**given, "image": URL})
        seedream_45 = parsed(aspect_ratio=ratio.value, image_input=[URL])
        assert SEEDREAM_45.output_size(seedream_45, (300, 200)) == output_dimensions(
            seedream_40, (300, 200)
        )


def test_match_input_image_keeps_the_first_input_images_ratio_at_4k() -> None:
    spec = parsed(size="4K", image_input=[URL])
    width, height = SEEDREAM_45.output_size(spec, (100, 300))
    assert abs(width / height - 1 / 3) < 0.01
    assert max(width, height) <= MAX_OUTPUT_SIDE
    assert width * height <= MAX_OUTPUT_PIXELS
    assert spec.input_images() == [URL]
