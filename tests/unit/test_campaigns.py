"""Campaign files: a matrix of data rows and axes read wherever a manifest is, and every problem
named by file, line and field."""

import tracemalloc
from pathlib import Path

import pytest

from jobs.models import model_named
from jobs.models.input_rules import AspectRatio
from jobs.spec import JobSpec
from producer.campaigns.campaign_file import MAX_COMBINATIONS
from producer.manifest import ManifestError, ManifestReader, RejectedRow, read_manifest
from producer.rejects import RejectsWriter
from producer.submission import manifest_sha256
from tests.support.images import image_bytes
from tests.support.rows import jsonl, problems, rows, seedream40, write

PRODUCTS = "sku,name\nA1,red shoe\nB2,blue hat\n"
MATRIX = """\
data: products.csv
prompt: "a {name}, {style} style"
id: "{sku}/{aspect_ratio}-{style}"
vary:
  aspect_ratio: ["1:1", "9:16"]
  style: [photo, sketch]
fixed:
  size: 1K
  caption: "{name} ({style})"
"""


def campaign(tmp_path: Path, text: str, data: str = PRODUCTS, name: str = "products.csv") -> Path:
    write(tmp_path, name, data)
    return write(tmp_path, "campaign.yaml", text)


def refusal(path: Path) -> str:
    with pytest.raises(ManifestError) as caught:
        read_manifest(path)
    return str(caught.value).removeprefix(f"{path}: ")


def jobs(path: Path) -> list[JobSpec]:
    found = rows(path)
    assert all(isinstance(row, JobSpec) for row in found), [str(row) for row in found]
    return [row for row in found if isinstance(row, JobSpec)]


# ---------------------------------------------------------------- expansion


def test_each_data_row_becomes_a_job_per_combination_first_axis_slowest(tmp_path: Path) -> None:
    found = jobs(campaign(tmp_path, MATRIX))

    assert [job.key for job in found] == [
        "A1/1-1-photo", "A1/1-1-sketch", "A1/9-16-photo", "A1/9-16-sketch",
        "B2/1-1-photo", "B2/1-1-sketch", "B2/9-16-photo", "B2/9-16-sketch",
    ]  # fmt: skip
    first, last = found[0], found[-1]
    assert first.line == 2
    assert last.line == 3
    assert first.input.prompt == "a red shoe, photo style"
    assert seedream40(last).aspect_ratio is AspectRatio.tall_9_16
    assert seedream40(first).size == "1K"
    assert last.metadata == {
        "sku": "B2", "name": "blue hat", "style": "sketch", "caption": "blue hat (sketch)",
    }  # fmt: skip


def test_variants_multiply_the_combinations_and_a_row_s_own_column_wins(tmp_path: Path) -> None:
    path = campaign(
        tmp_path,
        MATRIX + "variants: 2\n",
        "sku,name,variants\nA1,red shoe,\nB2,blue hat,1\n",
    )

    keys = [(job.key, job.variant) for job in jobs(path)]

    assert keys[:3] == [("A1/1-1-photo/1", 1), ("A1/1-1-photo/2", 2), ("A1/1-1-sketch/1", 1)]
    assert len(keys) == 8 + 4
    assert keys[-1] == ("B2/9-16-sketch", None)


def test_without_an_id_template_keys_are_the_row_id_or_line_then_each_varying_axis(
    tmp_path: Path,
) -> None:
    text = 'data: rows.jsonl\nprompt: "{p}"\nvary: {aspect_ratio: ["1:1", "16:9"], size: [2K]}\n'
    path = campaign(tmp_path, text, jsonl({"id": "hero", "p": "a"}, {"p": "b"}), "rows.jsonl")

    assert [job.key for job in jobs(path)] == ["hero/1-1", "hero/16-9", "2/1-1", "2/16-9"]


def test_without_axes_a_campaign_row_keeps_the_manifest_s_own_key(tmp_path: Path) -> None:
    path = campaign(
        tmp_path, 'data: rows.jsonl\nprompt: "a {p}"\n', jsonl({"p": "cat"}), "rows.jsonl"
    )

    (job,) = jobs(path)

    assert (job.key, job.input.prompt, job.metadata) == ("1", "a cat", {"p": "cat"})


def test_the_prompt_template_may_read_the_data_s_own_prompt_and_replaces_it(
    tmp_path: Path,
) -> None:
    path = campaign(
        tmp_path, 'data: p.csv\nprompt: "{prompt}, watercolour"\n', "prompt\na fox\n", "p.csv"
    )

    (job,) = jobs(path)

    assert (job.input.prompt, job.metadata) == ("a fox, watercolour", {})


def test_rows_written_in_the_campaign_are_reported_at_their_line_there(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "campaign.yaml",
        'prompt: "a {name}"\ndata:\n  - {name: mug}\n  - {title: cup}\n  - just text\n',
    )

    found = rows(path)

    assert isinstance(found[0], JobSpec)
    assert found[0].input.prompt == "a mug"
    assert str(found[1]) == (
        f"{path}:4: name: is empty or not given, and the prompt template reads it"
    )
    assert problems(found[2]) == {
        "row": "is not a mapping of field names to values, such as {sku: A1, name: Red shoe}"
    }


def test_a_bad_data_row_is_rejected_whole_at_its_line_with_each_problem_once(
    tmp_path: Path,
) -> None:
    data = "sku,name,size\nA1,red shoe,\nB2,,5K\nA1,again,\n"

    found = rows(
        campaign(tmp_path, MATRIX.replace("  size: 1K\n", "  enhance_prompt: true\n"), data)
    )

    bad = [row for row in found if isinstance(row, RejectedRow)]
    assert [str(row).splitlines()[0].split(": ")[0] for row in bad] == [
        f"{tmp_path / 'products.csv'}:3", f"{tmp_path / 'products.csv'}:4",
    ]  # fmt: skip
    assert problems(bad[0]) == {"name": "is empty or not given, and the prompt template reads it"}
    assert bad[0].raw == "B2,,5K"
    assert problems(bad[1]) == {
        "id": "duplicate key 'A1/1-1-photo': line 2 has it already; keys must be unique in a batch"
    }
    assert sum(isinstance(row, JobSpec) for row in found) == 4


def test_a_row_field_an_axis_or_fixed_field_sets_too_is_a_problem_of_that_row(
    tmp_path: Path,
) -> None:
    path = campaign(tmp_path, MATRIX, jsonl({"sku": "A", "name": "a", "style": "oil"}), "p.jsonl")
    path.write_text(path.read_text().replace("products.csv", "p.jsonl"))

    (row,) = rows(path)

    assert problems(row) == {"style": "is set by vary.style in campaign.yaml too: rename the field"}


def test_a_local_image_is_read_from_the_campaign_s_folder(tmp_path: Path) -> None:
    (tmp_path / "shots").mkdir()
    write(tmp_path, "shots/A1.png", image_bytes("PNG", (64, 64)))
    text = 'data: [{sku: A1}]\nprompt: "the product"\nfixed: {image: "shots/{sku}.png"}\n'

    (job,) = jobs(write(tmp_path, "campaign.yaml", text))

    assert (seedream40(job).image or "").startswith("data:image/png;base64,")


def test_expansion_streams_a_large_table_in_flat_memory(tmp_path: Path) -> None:
    data = "sku,name\n" + "".join(f"S{n},product {n}\n" for n in range(3000))
    path = campaign(tmp_path, MATRIX, data)
    reader = ManifestReader(path)

    tracemalloc.start()
    try:
        count = 0
        for _row in reader:
            count += 1
            if count == 1000:
                early = tracemalloc.get_traced_memory()[0]
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        reader.close()

    assert count == 12_000
    # what grows is the key check's memory (a few hundred bytes a key), never the rows
    assert late - early < 11_000 * 400


# ---------------------------------------------------------------- the whole file, refused


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("prompt: x\n", "data: is missing: a campaign needs data: (a file or rows) and prompt:"),
        ("data: p.csv\nprompt: x\ncolour: red\n", "colour: is not a campaign field: use data,"),
        ("data: p.csv\nprompt: 7\n", "prompt: Input should be a valid string"),
        ("data: p.csv\nprompt: x\nvariants: 101\n", "variants: Input should be less than or"),
        ("data: p.csv\nprompt: x\nvary: {style: []}\n", "vary.style: List should have at least 1"),
        ("data: p.csv\nprompt: x\nvary: {style: [[a]]}\n", "vary.style.0: Input should be a"),
        ("- a\n- b\n", "a campaign file is a mapping: data:, prompt:"),
        ("data: [\n", "not YAML: "),
        ("data: &r [{a: 1}]\nprompt: x\nfixed: {b: *r}\n", "line 3: an alias ('*r') is not"),
    ],
)
def test_a_campaign_that_is_not_one_is_refused_naming_the_field(
    tmp_path: Path, text: str, problem: str
) -> None:
    assert refusal(campaign(tmp_path, text, name="p.csv")).startswith(problem)


@pytest.mark.parametrize(
    ("edit", "problem"),
    [
        (("{name}, {style}", "{name.upper}"), "prompt: '{name.upper}' is not a placeholder"),
        (("{name} ({style})", "{name!r}"), "fixed.caption: '{name!r}' is not a placeholder"),
        (("  style:", "  stlye:"), "vary.stlye: is not an input field of bytedance/seedream-4.0"),
        (("-{style}", ""), "id: the template does not read the axis style, so the combinations"),
        (("{sku}/", ""), "id: the template reads no field of the data row, so every row would"),
        (("{name}, {style}", "{size}"), "prompt: {size} reads a fixed field; templates read the"),
        (("{name}, {style}", "{colour}"), "{colour}: is not a column of"),
        (("  size: 1K", "  style: big"), "fixed.style: is an axis of vary too: give it in one"),
        (("  size: 1K", "  id: x"), "fixed.id: id is set by id:"),
        (("  style:", "  prompt:"), "vary.prompt: prompt is set by prompt:, not by an axis"),
        (("[photo, sketch]", "[photo, photo]"), "vary.style: a value is listed twice"),
        (("data: products.csv", "data: ../products.csv"), "data: '../products.csv' is outside"),
        (("data: products.csv", "data: other.yaml"), "data: 'other.yaml' is a campaign;"),
        (("data: products.csv", "data: p.txt"), "data: unknown manifest format '.txt'"),
        (("data: products.csv", "data: gone.csv"), "data: "),
    ],
)
def test_what_can_be_judged_before_reading_a_row_is_refused_naming_the_field(
    tmp_path: Path, edit: tuple[str, str], problem: str
) -> None:
    text = MATRIX.replace(*edit)
    assert text != MATRIX

    assert refusal(campaign(tmp_path, text)).startswith(problem)


def test_a_csv_column_the_campaign_sets_too_is_refused_before_any_row(tmp_path: Path) -> None:
    path = campaign(tmp_path, MATRIX, "sku,name,size\nA1,shoe,2K\n")

    assert refusal(path) == (
        f"fixed.size: {tmp_path / 'products.csv'} has a column size too: rename the column or "
        "the campaign's field"
    )


def test_a_matrix_past_the_most_combinations_is_refused_unpaid(tmp_path: Path) -> None:
    values = ", ".join(f"s{n}" for n in range(MAX_COMBINATIONS // 4 + 1))
    text = MATRIX.replace("[photo, sketch]", f"[{values}]").replace(
        '["1:1", "9:16"]', '["1:1", "9:16", "4:3", "3:4"]'
    )

    assert refusal(campaign(tmp_path, text)).startswith("vary: its axes make 1,004 combinations")


# ---------------------------------------------------------------- what a batch keeps of it


def test_the_rejects_file_of_a_campaign_is_its_data_s_format_with_its_header(
    tmp_path: Path,
) -> None:
    path = campaign(tmp_path, MATRIX, "sku,name\nA1,\nB2,hat\n")
    reader = ManifestReader(path)
    with RejectsWriter.for_manifest(path, tmp_path / "bad.csv") as writer:
        for row in reader:
            if isinstance(row, RejectedRow):
                writer.write(row)
    reader.close()

    assert (tmp_path / "bad.csv").read_text() == "sku,name\nA1,\n"


def test_a_changed_data_file_makes_another_manifest_digest(tmp_path: Path) -> None:
    path = campaign(tmp_path, MATRIX)
    with ManifestReader(path) as reader:
        before = manifest_sha256(*reader.files)
    write(tmp_path, "products.csv", PRODUCTS + "C3,green bag\n")
    with ManifestReader(path) as reader:
        after = manifest_sha256(*reader.files)

    assert reader.files == (path, tmp_path / "products.csv")
    assert before != after


def test_a_campaign_is_validated_for_the_batch_s_model(tmp_path: Path) -> None:
    text = MATRIX.replace(
        "  size: 1K\n", "  size: 2K\n  max_images: 3\n  sequential_image_generation: auto\n"
    )
    path = campaign(tmp_path, text)

    found = rows(path, model=model_named("bytedance/seedream-4.5"))
    refused = rows(path)

    assert all(isinstance(row, JobSpec) for row in found)
    assert problems(refused[0])["max_images"].startswith("is a field of bytedance/seedream-4.5")
