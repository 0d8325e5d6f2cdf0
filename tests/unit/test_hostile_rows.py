"""Rows written to break things: keys that escape the prefix, control characters, runaway sizes,
wrong types. Each is one clear `field: problem`, and the rows around it still go through."""

import base64
import json
import re
import tracemalloc
import warnings
from pathlib import Path

import pytest

from jobs.keys import validate_key
from jobs.models.input_rules import MAX_PROMPT_CHARS
from jobs.models.seedream_4_0 import Seedream40Input
from jobs.spec import MAX_METADATA_BYTES, MAX_METADATA_DEPTH, MAX_METADATA_VALUES, JobSpec
from tests.support.hostile_manifest import bomb_png
from tests.support.rows import jsonl, only_job, only_rejection, problems, rows, write

# ---------------------------------------------------------------- keys


@pytest.mark.parametrize(
    ("key", "problem"),
    [
        ("../x", "'../x' contains '..'; keys must stay under the output prefix"),
        ("a/../../b", "'a/../../b' contains '..'; keys must stay under the output prefix"),
        ("/abs", "'/abs' is absolute; keys are relative to the output prefix"),
        ("a\n", "'a\\n' is not allowed: use letters, digits"),
        ("a/b\n", "'a/b\\n' is not allowed: use letters, digits"),
        ("a\nb", "'a\\nb' is not allowed: use letters, digits"),
        ("a\tb", "'a\\tb' is not allowed: use letters, digits"),
        ("\x1b[31mred", "'\\x1b[31mred' is not allowed: use letters, digits"),
        ("a\rb", "'a\\rb' is not allowed: use letters, digits"),
        ("a\x00b", "'a\\x00b' is not allowed: use letters, digits"),
        ("a//b", "'a//b' is not allowed: use letters, digits"),
        ("a\\..\\b", "'a\\\\..\\\\b' is not allowed: use letters, digits"),
    ],
)
def test_a_key_that_could_escape_the_prefix_or_break_a_line_is_refused(
    tmp_path: Path, key: str, problem: str
) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(problem)}"):
        validate_key(key)
    if "\x00" not in key:  # a NUL is refused earlier, by the reader (test_manifest)
        path = write(tmp_path, "m.jsonl", jsonl({"id": key, "prompt": "a cat"}))
        assert problems(only_rejection(path))["id"].startswith(problem)


def test_a_trailing_newline_is_not_a_key_even_though_a_dollar_anchor_allows_it() -> None:
    assert validate_key("campaign/sku-1/hero") == "campaign/sku-1/hero"
    with pytest.raises(ValueError, match="is not allowed"):
        validate_key("campaign/sku-1/hero\n")


# ---------------------------------------------------------------- prompts


def test_a_prompt_at_the_cap_is_accepted_and_one_over_is_refused_saying_both_lengths(
    tmp_path: Path,
) -> None:
    at_cap, over = "a" * MAX_PROMPT_CHARS, "b" * (MAX_PROMPT_CHARS + 1)
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": at_cap}, {"prompt": over}))
    accepted, refused = rows(path)
    assert isinstance(accepted, JobSpec)
    assert problems(refused) == {
        "prompt": f"is {MAX_PROMPT_CHARS + 1} characters; at most {MAX_PROMPT_CHARS} are allowed"
    }


def test_a_10_mb_prompt_is_one_row_problem_not_a_stored_job(tmp_path: Path) -> None:
    huge = "x" * (10 * 1024 * 1024)
    path = write(tmp_path, "m.csv", f"prompt,size\n{huge},1K\nsmall,1K\n")
    refused, accepted = rows(path)
    assert problems(refused) == {
        "prompt": f"is {len(huge)} characters; at most {MAX_PROMPT_CHARS} are allowed"
    }
    assert isinstance(accepted, JobSpec)
    assert accepted.line == 3


@pytest.mark.parametrize("allowed", ["two\tcolumns", "two\nlines", "windows\r\nlines"])
def test_tabs_and_line_breaks_in_a_prompt_are_fine(tmp_path: Path, allowed: str) -> None:
    assert only_job(write(tmp_path, "m.jsonl", jsonl({"prompt": allowed}))).input.prompt == allowed


@pytest.mark.parametrize(
    ("prompt", "named"),
    [("red\x1b[0m", "U+001B at character 4"), ("bell\x07", "U+0007 at character 5")],
)
def test_other_control_characters_in_a_prompt_are_refused(
    tmp_path: Path, prompt: str, named: str
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": prompt}))
    assert problems(only_rejection(path)) == {
        "prompt": f"contains the control character {named}; tabs and line breaks are allowed, "
        "other control characters are not"
    }


def test_a_nul_in_a_prompt_is_refused_by_the_spec_itself_whoever_builds_it() -> None:
    with pytest.raises(ValueError, match="control character U\\+0000 at character 2"):
        Seedream40Input(prompt="a\x00cat")


# ---------------------------------------------------------------- image URLs


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("https://host/a cat.png", "U+0020 at character 15"),
        ("https://host/cat.png\n", "U+000A at character 21"),
        ("https://host/\x00.png", "U+0000 at character 14"),
    ],
)
def test_an_image_url_with_spaces_or_control_characters_is_refused(
    tmp_path: Path, url: str, named: str
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", "image": url}))
    if "\x00" in url:  # the reader names the field before the spec sees it
        assert set(problems(only_rejection(path))) == {"image"}
        with pytest.raises(ValueError, match=re.escape(named)):
            Seedream40Input(prompt="a", image=url)
        return
    assert problems(only_rejection(path)) == {
        "image": f"URL contains {named}; a URL has no spaces or control characters (write a "
        "space as %20)"
    }


# ---------------------------------------------------------------- decompression bombs


@pytest.mark.parametrize("pixels", [(100_000, 100_000), (10_000, 10_000)])
@pytest.mark.parametrize("given_as", ["data URI", "local file"])
def test_a_tiny_image_declaring_too_many_pixels_is_its_rows_error(
    tmp_path: Path, given_as: str, pixels: tuple[int, int]
) -> None:
    bomb = bomb_png(*pixels)
    if given_as == "local file":
        (tmp_path / "bomb.png").write_bytes(bomb)
        image = "bomb.png"
    else:
        image = f"data:image/png;base64,{base64.b64encode(bomb).decode()}"
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", "image": image}, {"prompt": "b"}))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bad, good = rows(path)

    assert "declares more than 89478485 pixels" in problems(bad)["image"]
    assert isinstance(good, JobSpec)
    assert good.input.prompt == "b"


# ---------------------------------------------------------------- metadata


def test_metadata_over_the_cap_is_refused_saying_its_size(tmp_path: Path) -> None:
    caption = "c" * MAX_METADATA_BYTES
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", "caption": caption}))
    size = len('{"caption":""}') + len(caption)  # compact, as the table stores it
    assert problems(only_rejection(path)) == {
        "metadata": f"is {size} bytes as JSON (every column that is not a job field); at most "
        f"{MAX_METADATA_BYTES} are allowed"
    }


def test_a_10_mb_caption_is_refused_and_the_next_row_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.jsonl",
        jsonl({"prompt": "a", "caption": "c" * (10 * 1024 * 1024)}, {"prompt": "next"}),
    )
    refused, accepted = rows(path)
    assert set(problems(refused)) == {"metadata"}
    assert isinstance(accepted, JobSpec)
    assert accepted.line == 2


def test_metadata_within_the_cap_keeps_its_shape(tmp_path: Path) -> None:
    labels = {"caption": "é" * 1000, "labels": ["a", "b"], "score": 0.5, "ok": True}
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", **labels}))
    assert only_job(path).metadata == labels


@pytest.mark.parametrize(
    ("metadata", "problem"),
    [
        ({"caption": "c", "tags": [[] for _ in range(1001)]}, "holds more than 1000 values, "
         "the most allowed (its columns and every list item and object member in them; 'tags' "
         "holds the most)"),
        ({"tags": list(range(MAX_METADATA_VALUES))}, "holds more than 1000 values"),
        ({"deep": json.loads("[" * 9 + "]" * 9)}, "'deep' nests lists and objects 9 levels deep; "
         "at most 8 are allowed"),
        ({"deep": json.loads('{"a":' * 500 + "1" + "}" * 500)}, "'deep' nests lists and "
         "objects 500 levels deep; at most 8 are allowed"),
    ],
)  # fmt: skip
def test_metadata_holding_too_many_values_or_nesting_too_deep_is_refused_naming_the_limit(
    tmp_path: Path, metadata: dict[str, object], problem: str
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", **metadata}, {"prompt": "next"}))

    refused, accepted = rows(path)

    assert problems(refused)["metadata"].startswith(problem)
    assert isinstance(accepted, JobSpec)
    assert accepted.line == 2


def test_metadata_at_the_limits_is_kept() -> None:
    metadata = {
        "tags": list(range(MAX_METADATA_VALUES - MAX_METADATA_DEPTH - 1)),
        "deep": json.loads("[" * MAX_METADATA_DEPTH + "]" * MAX_METADATA_DEPTH),
    }
    job = JobSpec(key="k", line=1, input=Seedream40Input(prompt="a"), metadata=metadata)
    assert job.metadata == metadata


def test_a_long_line_of_brackets_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    line = '{"prompt": "a", "tags": [' + "[]," * 4_000_000 + "[]]}"
    path = write(tmp_path, "m.jsonl", line + "\n" + jsonl({"prompt": "next"}))
    tracemalloc.start()
    try:
        refused, accepted = rows(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert problems(refused) == {
        "row": "has more than 2064 brackets and commas outside its strings, more than a valid "
        "row can (its metadata holds at most 1000 values), so it was not decoded"
    }
    assert isinstance(accepted, JobSpec)
    # the line is 12 MB; decoded, it would have been four million lists (~300 MB)
    assert peak < 3 * len(line) + 10 * 1024 * 1024


def test_brackets_and_commas_inside_strings_do_not_count_against_a_row(tmp_path: Path) -> None:
    prompt = '[{,\\"' * 2_000
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": prompt, "caption": "[{," * 20_000}))

    assert only_job(path).input.prompt == prompt


def test_a_number_json_cannot_hold_is_refused_naming_its_column(tmp_path: Path) -> None:
    # Python's json module reads 1e999 as infinity; PostgreSQL's json type has no such number
    path = write(tmp_path, "m.jsonl", '{"prompt": "a", "scores": [1, 1e999]}\n')
    assert problems(only_rejection(path)) == {
        "metadata": "'scores' holds a value JSON has no form for (NaN, an infinite number or an "
        "object of another kind): use text, numbers, true or false, null, lists and objects"
    }


@pytest.mark.parametrize("value", [float("nan"), {"when": object()}, b"bytes"])
def test_metadata_the_table_cannot_store_as_json_is_refused_by_the_spec_itself(
    value: object,
) -> None:
    with pytest.raises(ValueError, match="'x' holds a value JSON has no form for"):
        JobSpec(key="k", line=1, input=Seedream40Input(prompt="a"), metadata={"ok": 1, "x": value})


@pytest.mark.parametrize(
    ("metadata", "where"),
    [
        ({"caption": "a\x00b"}, "'caption'"),
        ({"box": {"labels": ["ok", "x\x00"]}}, "'box'['labels'][1]"),
        ({"na\x00me": "x"}, "'na\\x00me'"),
    ],
)
def test_a_nul_anywhere_in_metadata_is_refused_by_the_spec_itself(
    metadata: dict[str, object], where: str
) -> None:
    problem = f"{where} contains a NUL character (U+0000); text cannot hold it"
    with pytest.raises(ValueError, match=re.escape(problem)):
        JobSpec(key="k", line=1, input=Seedream40Input(prompt="a"), metadata=metadata)


# ---------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        ({"prompt": ["a", "list"]}, "prompt", "a list is not text"),
        ({"prompt": {"text": "a"}}, "prompt", "an object is not text"),
        ({"prompt": None}, "prompt", "null is not text"),
        ({"prompt": "a", "size": 2}, "size", "2 is not allowed: use one of 1K, 2K, 4K, custom"),
        ({"prompt": "a", "image": 7}, "image", "7 is not text"),
        ({"prompt": "a", "enhance_prompt": [True]}, "enhance_prompt", "a list is not a yes/no"),
        ({"prompt": "a", "id": ["k"]}, "id", "a list is not a key: use text or a whole number"),
    ],
)
def test_a_value_of_the_wrong_type_names_its_field(
    tmp_path: Path, row: dict[str, object], field: str, problem: str
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl(row))
    assert problems(only_rejection(path))[field].startswith(problem)
