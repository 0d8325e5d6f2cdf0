"""Reading manifests: every row becomes a job or a rejection naming its file, line and field."""

import json
import time
import tracemalloc
from pathlib import Path

import pytest

from jobs.models.input_rules import MAX_INPUT_IMAGE_BYTES, AspectRatio
from jobs.models.seedream_4_0 import Size
from jobs.spec import JobSpec
from producer.manifest import (
    MAX_ROW_BYTES,
    ManifestError,
    ManifestFormat,
    ManifestReader,
    RejectedRow,
    read_manifest,
)
from tests.support.rows import (
    jsonl,
    only_job,
    only_rejection,
    problems,
    rows,
    seedream40,
    write,
)


def jobs(path: Path) -> list[JobSpec]:
    result = rows(path)
    assert all(isinstance(row, JobSpec) for row in result), [str(row) for row in result]
    return [row for row in result if isinstance(row, JobSpec)]


# ---------------------------------------------------------------- the two formats


def test_a_jsonl_row_becomes_a_job_with_its_key_line_input_and_metadata(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.jsonl",
        jsonl(
            {
                "id": "spring/sku-1",
                "prompt": "a red bicycle",
                "size": "custom",
                "width": 2048,
                "height": 1024,
                "enhance_prompt": False,
                "caption": "bike",
                "labels": ["red", "bike"],
            },
        ),
    )
    job = only_job(path)
    assert job.key == "spring/sku-1"
    assert job.line == 1
    assert seedream40(job).payload() == {
        "prompt": "a red bicycle",
        "size": "custom",
        "width": 2048,
        "height": 1024,
        "enhance_prompt": False,
    }
    assert job.metadata == {"caption": "bike", "labels": ["red", "bike"]}


def test_ndjson_is_read_as_jsonl(tmp_path: Path) -> None:
    path = write(tmp_path, "m.ndjson", jsonl({"prompt": "a cat"}))
    assert only_job(path).input.prompt == "a cat"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("true", True), ("false", False), ("1", True), ("0", False), ("yes", True), ("no", False)],
)
def test_a_csv_row_has_its_text_coerced_to_booleans_and_integers(
    tmp_path: Path, cell: str, expected: bool
) -> None:
    path = write(
        tmp_path,
        "m.csv",
        f"prompt,size,width,height,enhance_prompt\na cat,custom,1024,4096,{cell}\n",
    )
    job = only_job(path)
    given = seedream40(job)
    assert (given.size, given.width, given.height) == (
        Size.custom,
        1024,
        4096,
    )
    assert given.enhance_prompt is expected


def test_an_unknown_extension_is_refused_naming_the_allowed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "m.txt", jsonl({"prompt": "a cat"}))
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert (
        str(caught.value)
        == f"{path}: unknown manifest format '.txt': use one of .jsonl, .ndjson, .csv, or a "
        "campaign file (.yaml, .yml)"
    )


def test_a_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"m\.jsonl: no such manifest file"):
        read_manifest(tmp_path / "m.jsonl")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty: a CSV manifest starts with a header row"),
        ("\n\n", "is empty: a CSV manifest starts with a header row"),
        ("a cat,2K\n", "line 1: the header row has no 'prompt' column (it has 'a cat', '2K')"),
        ("id,Prompt\n1,a cat\n", "the header row has no 'prompt' column"),
        ("prompt,size,prompt\n", "line 1: column 'prompt' is named twice in the header"),
        (b"prompt,\xff\n", "line 1: the header row is not valid UTF-8"),
        (",".join(["prompt", *(f"c{i}" for i in range(1000))]) + "\n",
         "line 1: the header row has 1001 columns; at most 1000 are allowed"),
    ],
)  # fmt: skip
def test_a_csv_without_a_usable_header_is_refused_before_any_row(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    path = write(tmp_path, "m.csv", content)
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_a_header_of_a_hundred_thousand_columns_is_refused_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", ",".join(["prompt", *map(str, range(100_000))]) + "\n")
    started = time.perf_counter()

    with pytest.raises(ManifestError, match="has 100001 columns; at most 1000 are allowed"):
        read_manifest(path)
    assert time.perf_counter() - started < 2


def test_a_column_named_twice_among_a_thousand_is_found(
    tmp_path: Path,
) -> None:
    names = ["prompt", *(f"c{i}" for i in range(998)), "c5"]
    path = write(tmp_path, "m.csv", ",".join(names) + "\n")

    with pytest.raises(ManifestError, match="line 1: column 'c5' is named twice in the header"):
        read_manifest(path)


def test_the_reader_tells_the_format_and_the_csv_header(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "m.csv", " id , prompt,caption\n1,a cat,c\n")
    with ManifestReader(csv_path) as reader:
        assert (reader.format, reader.header) == (ManifestFormat.csv, ["id", "prompt", "caption"])
        assert [row.key for row in reader if isinstance(row, JobSpec)] == ["1"]
    with ManifestReader(write(tmp_path, "m.jsonl", jsonl({"prompt": "a"}))) as reader:
        assert (reader.format, reader.header) == (ManifestFormat.jsonl, None)


# ---------------------------------------------------------------- keys and metadata


def test_the_default_key_is_the_line_number(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", "\n" + jsonl({"prompt": "a"}, {"prompt": "b", "id": None}))
    assert [(job.key, job.line) for job in jobs(path)] == [("2", 2), ("3", 3)]


def test_an_integer_id_in_jsonl_becomes_a_string_key(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"id": 42, "prompt": "a cat"}))
    assert only_job(path).key == "42"


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("../escape", "'../escape' contains '..'; keys must stay under the output prefix"),
        ("/abs", "'/abs' is absolute; keys are relative to the output prefix"),
        ("a b", "'a b' is not allowed: use letters, digits"),
        ("", "must not be empty"),
        (1.5, "1.5 is not a key: use text or a whole number"),
        (True, "true is not a key: use text or a whole number"),
        ({"a": 1}, "an object is not a key: use text or a whole number"),
    ],
)
def test_a_bad_id_is_reported_on_the_id_field(tmp_path: Path, given: object, problem: str) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"id": given, "prompt": "a cat"}))
    assert problems(only_rejection(path))["id"].startswith(problem)


def test_extra_columns_become_metadata(tmp_path: Path) -> None:
    csv_path = write(tmp_path, "m.csv", "prompt,caption,label\na cat,a small cat,7\n")
    assert only_job(csv_path).metadata == {"caption": "a small cat", "label": "7"}
    nested = {"prompt": "a cat", "label": 7, "box": {"x": [1, 2]}, "ok": True, "none": None}
    jsonl_path = write(tmp_path, "m.jsonl", jsonl(nested))
    assert only_job(jsonl_path).metadata == {
        "label": 7,
        "box": {"x": [1, 2]},
        "ok": True,
        "none": None,
    }


def test_a_csv_empty_cell_means_the_field_is_not_given(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "id,prompt,size,enhance_prompt,caption\n,a cat,,,\n")
    job = only_job(path)
    assert job.key == "2"
    assert seedream40(job).payload() == {"prompt": "a cat"}
    assert job.metadata == {}


def test_a_csv_row_of_empty_cells_is_skipped_like_a_blank_line(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "prompt,size\n,\n\na cat,1K\n,,\n")
    assert [(job.line, job.input.prompt) for job in jobs(path)] == [(4, "a cat")]


def test_blank_jsonl_lines_are_skipped_and_rows_keep_their_physical_line(tmp_path: Path) -> None:
    path = write(
        tmp_path, "m.jsonl", "\n   \n" + jsonl({"prompt": "a"}) + "\n" + jsonl({"prompt": "b"})
    )
    assert [job.line for job in jobs(path)] == [3, 5]


# ---------------------------------------------------------------- bad rows


def test_every_bad_row_is_reported_with_its_line_and_field_and_the_good_rows_go_on(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        "m.csv",
        (
            "prompt,size,width,height\n"
            "good one,2K,,\n"
            "bad size,5K,,\n"
            "good two,,,\n"
            "bad width,custom,500,1024\n"
            "good three,custom,1024,1024\n"
        ),
    )
    result = rows(path)
    assert [row.line for row in result if isinstance(row, JobSpec)] == [2, 4, 6]
    rejected = [row for row in result if isinstance(row, RejectedRow)]
    assert [(row.path, row.line, problems(row)) for row in rejected] == [
        (str(path), 3, {"size": "'5K' is not allowed: use one of 1K, 2K, 4K, custom"}),
        (str(path), 5, {"width": "'500' is out of range: allowed 1024 to 4096"}),
    ]


def test_every_problem_of_a_row_is_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.jsonl",
        jsonl(
            {
                "id": "../x",
                "size": "5K",
                "aspect_ratio": "7:5",
                "width": "wide",
                "enhance_prompt": "maybe",
            },
        ),
    )
    assert set(problems(only_rejection(path))) == {
        "id",
        "prompt",
        "size",
        "aspect_ratio",
        "width",
        "enhance_prompt",
    }


def test_a_rejected_row_prints_one_line_per_problem_with_path_line_and_field(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "m.csv", "prompt,size,width\n,5K,\n")
    assert str(only_rejection(path)).splitlines() == [
        f"{path}:2: prompt: is required",
        f"{path}:2: size: '5K' is not allowed: use one of 1K, 2K, 4K, custom",
    ]


@pytest.mark.parametrize(
    ("row", "field", "problem"),
    [
        (
            {"prompt": "a", "size": "5K"},
            "size",
            "'5K' is not allowed: use one of 1K, 2K, 4K, custom",
        ),
        (
            {"prompt": "a", "aspect_ratio": "5:4"},
            "aspect_ratio",
            "'5:4' is not allowed: use one of match_input_image, 1:1, 4:3, 3:4, 16:9, 9:16, 3:2, "
            "2:3, 21:9",
        ),
        (
            {"prompt": "a", "size": "custom", "width": 5000, "height": 1024},
            "width",
            "5000 is out of range: allowed 1024 to 4096",
        ),
        (
            {"prompt": "a", "size": "custom", "width": 1024, "height": "tall"},
            "height",
            "'tall' is not a whole number: allowed 1024 to 4096",
        ),
        (
            {"prompt": "a", "size": "custom", "width": 1024.5, "height": 1024},
            "width",
            "1024.5 is not a whole number: allowed 1024 to 4096",
        ),
        (
            {"prompt": "a", "enhance_prompt": "maybe"},
            "enhance_prompt",
            "'maybe' is not a yes/no value: use true or false (or yes/no, 1/0)",
        ),
        ({"size": "2K"}, "prompt", "is required"),
        ({"prompt": ""}, "prompt", "must not be empty"),
        ({"prompt": "   "}, "prompt", "must not be blank"),
        ({"prompt": 42}, "prompt", "42 is not text"),
        (
            {"prompt": "a", "image": "ftp://host/cat.png"},
            "image",
            "must be an http(s) URL or a data:image/jpeg|png;base64 URI, got 'ftp://host/cat.png'",
        ),
    ],
)
def test_a_message_says_what_was_given_and_what_is_allowed(
    tmp_path: Path, row: dict[str, object], field: str, problem: str
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl(row))
    assert problems(only_rejection(path)) == {field: problem}


def test_a_message_quotes_only_the_start_of_a_long_value(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", "size": "x" * 10_000}))
    assert problems(only_rejection(path))["size"].startswith(f"'{'x' * 60}…' is not allowed")


@pytest.mark.parametrize(
    ("given", "field", "problem"),
    [
        ("size,width", "size", "size 'custom' needs both width and height"),
        ("size,height", "size", "size 'custom' needs both width and height"),
        ("width", "width", "width and height are only allowed with size 'custom'"),
        ("height", "height", "width and height are only allowed with size 'custom'"),
        ("aspect_ratio", "aspect_ratio", "aspect_ratio 'match_input_image' needs an image"),
    ],
)
def test_every_image_input_cross_field_rule_is_reported_through_a_manifest(
    tmp_path: Path, given: str, field: str, problem: str
) -> None:
    values = {
        "size": "custom",
        "width": "2048",
        "height": "1024",
        "aspect_ratio": "match_input_image",
    }
    header = ["prompt", *given.split(",")]
    path = write(
        tmp_path,
        "m.csv",
        ",".join(header)
        + "\n"
        + ",".join(["a cat", *(values[name] for name in header[1:])])
        + "\n",
    )
    assert problems(only_rejection(path)) == {field: problem}


def test_the_cross_field_rules_pass_when_the_row_agrees(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.jsonl",
        jsonl(
            {"prompt": "a", "size": "custom", "width": 2048, "height": 1024},
            {
                "prompt": "a",
                "aspect_ratio": "match_input_image",
                "image": "https://example.com/in.png",
            },
        ),
    )
    first, second = rows(path)
    assert isinstance(first, JobSpec)
    assert isinstance(second, JobSpec)
    assert seedream40(second).aspect_ratio is AspectRatio.match_input_image


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            '{"prompt": "a",',
            "is not valid JSON: Expecting property name enclosed in double quotes at column 16",
        ),
        ("prompt=a", "is not valid JSON: Expecting value at column 1"),
        (
            '["a cat"]',
            'is an array; each line must be one JSON object, such as {"prompt": "a red bicycle"}',
        ),
        ('"a cat"', "is a string; each line must be one JSON object"),
        ('{"prompt": "a", "prompt": "b"}', "key 'prompt' appears twice in an object"),
        ('{"prompt": "a", "width": NaN}', "is not valid JSON: NaN is not a JSON number"),
    ],
)
def test_a_jsonl_line_that_is_not_one_json_object_is_rejected(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = write(tmp_path, "m.jsonl", line + "\n")
    rejected = only_rejection(path)
    assert [p.field for p in rejected.problems] == ["row"]
    assert rejected.problems[0].problem.startswith(problem)
    assert rejected.raw == line


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("m.jsonl", b'{"prompt": "a\x00cat"}\n{"prompt": "ok"}\n'),
        ("m.jsonl", b'{"prompt": "ok", "caption": "a\x00cat"}\n{"prompt": "ok"}\n'),
        ("m.csv", b"prompt\na\x00cat\nok\n"),
        ("m.csv", b"prompt,caption\nok,a\x00cat\nok,\n"),
    ],
)
def test_a_nul_byte_rejects_only_its_row(tmp_path: Path, name: str, content: bytes) -> None:
    bad, good = rows(write(tmp_path, name, content))
    assert problems(bad) == {"row": "contains a NUL byte; a manifest is text"}
    assert isinstance(good, JobSpec)
    assert good.input.prompt == "ok"


NUL_ESCAPE = "contains a NUL character (a \\u0000 escape); text cannot hold it"


@pytest.mark.parametrize(
    ("line", "field", "problem"),
    [
        ('{"prompt": "a\\u0000cat"}', "prompt", NUL_ESCAPE),
        ('{"prompt": "a", "image": "https://x/\\u0000.png"}', "image", NUL_ESCAPE),
        ('{"prompt": "a", "id": "k\\u0000"}', "id", NUL_ESCAPE),
        ('{"prompt": "a", "caption": "\\u0000"}', "caption", NUL_ESCAPE),
        ('{"prompt": "a", "box": {"labels": ["ok", "x\\u0000"]}}', "box", NUL_ESCAPE),
        ('{"prompt": "a", "cap\\u0000tion": "x"}', "row", f"a key {NUL_ESCAPE}"),
    ],
)
def test_a_nul_escape_in_any_field_rejects_its_row_on_that_field(
    tmp_path: Path, line: str, field: str, problem: str
) -> None:
    path = write(tmp_path, "m.jsonl", line + "\n" + jsonl({"prompt": "ok"}))
    bad, good = rows(path)
    assert problems(bad) == {field: problem}
    assert isinstance(good, JobSpec)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("m.jsonl", b'{"prompt": "caf\xe9"}\n{"prompt": "ok"}\n'),
        ("m.csv", b"prompt\ncaf\xe9\nok\n"),
    ],
)
def test_invalid_utf8_rejects_only_its_row(tmp_path: Path, name: str, content: bytes) -> None:
    bad, good = rows(write(tmp_path, name, content))
    assert isinstance(bad, RejectedRow)
    assert problems(bad)["row"].startswith("is not valid UTF-8 (byte 0xe9 at byte")
    assert problems(bad)["row"].endswith("save the manifest as UTF-8")
    assert isinstance(good, JobSpec)
    assert good.input.prompt == "ok"


def test_a_lone_surrogate_escape_in_jsonl_is_not_text(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", '{"prompt": "a", "caption": "\\ud800"}\n')
    assert problems(only_rejection(path)) == {
        "caption": "contains a lone surrogate \\u escape; it is not text"
    }


# ---------------------------------------------------------------- encodings and CSV records


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("m.jsonl", b'\xef\xbb\xbf{"prompt": "caf\xc3\xa9", "size": "1K"}\r\n{"prompt": "b"}\r\n'),
        ("m.csv", b"\xef\xbb\xbfprompt,size\r\ncaf\xc3\xa9,1K\r\nb,\r\n"),
    ],
)
def test_bom_and_crlf_are_read(tmp_path: Path, name: str, content: bytes) -> None:
    first, second = rows(write(tmp_path, name, content))
    assert isinstance(first, JobSpec)
    assert isinstance(second, JobSpec)
    assert (first.input.prompt, seedream40(first).size, second.input.prompt) == (
        "café",
        Size.one_k,
        "b",
    )


def test_a_record_spanning_lines_reports_its_first_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.csv",
        ('prompt,size\n"a cat,\r\non two lines",1K\r\n"a dog\n\non three",5K\nlast,2K\n'),
    )
    cat, dog, last = rows(path)
    assert isinstance(cat, JobSpec)
    assert (cat.line, cat.input.prompt) == (
        2,
        "a cat,\r\non two lines",
    )
    assert isinstance(dog, RejectedRow)
    assert dog.line == 4
    assert dog.raw == '"a dog\n\non three",5K'
    assert isinstance(last, JobSpec)
    assert last.line == 7


def test_a_csv_row_with_more_cells_than_the_header_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "prompt,size\na cat,1K,extra\n")
    assert problems(only_rejection(path)) == {"row": "has 3 cells, the header has 2"}


def test_a_csv_row_with_fewer_cells_than_the_header_has_the_rest_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "prompt,size,caption\na cat\n")
    job = only_job(path)
    assert (seedream40(job).size, job.metadata) == (None, {})


def test_a_value_under_an_unnamed_column_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "prompt,size,\na cat,1K,\na dog,1K,stray\n")
    cat, dog = rows(path)
    assert isinstance(cat, JobSpec)
    assert problems(dog) == {"column 3": "has a value but no header name"}


def test_broken_quoting_rejects_only_its_row(tmp_path: Path) -> None:
    path = write(
        tmp_path, "m.csv", 'prompt,size\n"a "cat" in quotes",1K\nok,1K\n"never closed,1K\nlost,1K\n'
    )
    stray, ok, unclosed = rows(path)
    assert problems(stray)["row"].startswith(
        "is not valid CSV: a quoted cell must end at its closing quote"
    )
    assert isinstance(ok, JobSpec)
    assert ok.line == 3
    assert unclosed.line == 4
    assert problems(unclosed) == {
        "row": "is not valid CSV: a quoted cell is never closed: its quote runs to the end of the "
        "file"
    }


# ---------------------------------------------------------------- size and memory


def test_the_row_limit_has_room_for_the_largest_input_image_the_spec_allows() -> None:
    largest_data_uri = len("data:image/jpeg;base64,") + MAX_INPUT_IMAGE_BYTES * 4 // 3
    assert largest_data_uri < MAX_ROW_BYTES


def test_an_overlong_jsonl_line_is_rejected_unread_and_reading_goes_on(tmp_path: Path) -> None:
    long_line = '{"prompt": "' + "x" * MAX_ROW_BYTES + '"}'
    path = write(
        tmp_path,
        "m.jsonl",
        jsonl({"prompt": "before"}) + long_line + "\n" + jsonl({"prompt": "after"}),
    )
    before, long, after = rows(path)
    assert problems(long) == {
        "row": f"is {len(long_line)} bytes long; at most {MAX_ROW_BYTES} are allowed, so it was "
        "not read"
    }
    assert isinstance(long, RejectedRow)
    assert long.line == 2
    assert len(long.raw) == MAX_ROW_BYTES
    assert isinstance(before, JobSpec)
    assert isinstance(after, JobSpec)
    assert after.line == 3


def test_a_row_exactly_at_the_limit_is_read(tmp_path: Path) -> None:
    line = '{"prompt": "' + "x" * 100 + '"}'
    path = write(tmp_path, "m.jsonl", line + "\r\n")
    assert isinstance(only_rejection(path, max_row_bytes=len(line) - 1), RejectedRow)
    (row,) = rows(path, max_row_bytes=len(line))
    assert isinstance(row, JobSpec)


def test_an_overlong_csv_record_is_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    following = "".join(f"row {n},1K\n" for n in range(200))
    path = write(tmp_path, "m.csv", 'prompt,size\nfirst,1K\n"a quote left open,1K\n' + following)
    first, overlong, *after = rows(path, max_row_bytes=1000)
    assert isinstance(first, JobSpec)
    assert overlong.line == 3
    assert problems(overlong)["row"].endswith(
        "at most 1000 are allowed, so it was not read (is a quote left open?)"
    )
    prompts = [row.input.prompt for row in after if isinstance(row, JobSpec)]
    assert len(prompts) == len(after) > 100
    assert prompts[-1] == "row 199"


def test_reading_is_lazy(tmp_path: Path) -> None:
    for name, header, first, second in [
        ("m.jsonl", "", jsonl({"prompt": "first"}), jsonl({"prompt": "second"})),
        ("m.csv", "prompt\n", "first\n", "second\n"),
    ]:
        path = write(tmp_path, name, header + first)
        reading = read_manifest(path)
        assert next(reading).line == 1 + bool(header)
        with path.open("a", encoding="utf-8") as manifest:
            manifest.write(second)
        appended = next(reading)
        assert isinstance(appended, JobSpec)
        assert appended.input.prompt == "second"
        assert next(reading, None) is None


@pytest.mark.parametrize("name", ["m.jsonl", "m.csv"])
def test_memory_grows_only_by_a_small_entry_per_key_however_long_the_rows(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    prompt = "a watercolour of a lighthouse at dusk " * 25
    with path.open("w", encoding="utf-8") as manifest:
        if name.endswith(".csv"):
            manifest.write("prompt,size,caption\n")
            manifest.writelines(f"{prompt}{n},2K,caption {n}\n" for n in range(20_000))
        else:
            manifest.writelines(
                json.dumps({"prompt": f"{prompt}{n}", "size": "2K", "caption": n}) + "\n"
                for n in range(20_000)
            )
    assert path.stat().st_size > 16 * 1024 * 1024
    tracemalloc.start()
    try:
        count = sum(1 for row in read_manifest(path) if isinstance(row, JobSpec))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    # the rows are 1 KB each; what stays is one entry per key for the collision check
    assert peak < 1024 * 1024 + 20_000 * 100
