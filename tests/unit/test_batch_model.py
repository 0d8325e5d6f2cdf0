"""One model per batch: rows are read for the batch's model, a row naming another is refused,
a list field and its local images are read for any model, and the batch records its model and
its model's price."""

import base64
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import Settings
from jobs.models import MODELS, model_named
from jobs.models.seedream_4_5 import Seedream45Input
from jobs.results import ResultsTable
from jobs.spec import JobSpec
from producer.cli import app
from producer.manifest import ManifestError, ManifestReader
from producer.submission import SubmissionError, submit_manifest
from tests.support.images import image_bytes
from tests.support.rows import jsonl, only_job, only_rejection, problems, rows, write

SEEDREAM_40 = model_named("bytedance/seedream-4.0")
SEEDREAM_45 = model_named("bytedance/seedream-4.5")
URL = "https://example.com/in.png"
runner = CliRunner()


def seedream45(job: JobSpec) -> Seedream45Input:
    assert isinstance(job.input, Seedream45Input), job.input
    return job.input


def test_a_row_is_read_for_the_batchs_model(tmp_path: Path) -> None:
    row = {"prompt": "a fox", "size": "4K", "max_images": 3, "sequential_image_generation": "auto"}
    path = write(tmp_path, "m.jsonl", jsonl(row))

    spec = seedream45(only_job(path, SEEDREAM_45))

    assert (spec.size, spec.max_images) == ("4K", 3)
    refused = problems(only_rejection(path, model=SEEDREAM_40))
    assert list(refused) == ["max_images", "sequential_image_generation"]
    assert refused["max_images"] == (
        "is a field of bytedance/seedream-4.5, not of bytedance/seedream-4.0, which this batch "
        "calls: submit the rows as a batch of that model (--model)"
    )


def test_a_row_naming_the_batchs_model_is_read_and_the_name_is_not_metadata(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", "model": "bytedance/seedream-4.5"}))
    job = only_job(path, SEEDREAM_45)
    assert job.metadata == {}


def test_a_row_naming_another_model_is_refused_saying_how_to_submit_it(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "prompt,model\na fox,bytedance/seedream-4.5\n")

    rejected = only_rejection(path, model=SEEDREAM_40)

    assert str(rejected) == (
        f"{path}:2: model: this batch calls bytedance/seedream-4.0; a batch has one model: "
        "submit rows for bytedance/seedream-4.5 as another batch with --model "
        "bytedance/seedream-4.5"
    )


def test_a_row_naming_an_unknown_model_is_refused_listing_the_supported_ones(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", "model": "flux"}))
    assert problems(only_rejection(path)) == {
        "model": f"'flux' is not a model this version supports: use one of {', '.join(MODELS)}"
    }


def test_a_csv_header_without_prompt_names_the_batchs_model_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "m.csv", "id,text\n1,a\n")
    with pytest.raises(ManifestError, match="image_input, max_images") as caught:
        ManifestReader(path, model=SEEDREAM_45)
    assert "enhance_prompt" not in str(caught.value)
    assert str(caught.value).endswith(
        "disable_safety_checker, id, variants, model; any other column is metadata)"
    )


@pytest.mark.parametrize(
    "cell",
    [
        f"{URL} https://example.com/b.png",
        f'"[""{URL}"", ""https://example.com/b.png""]"',
    ],
)
def test_a_list_in_a_csv_cell_is_items_separated_by_spaces_or_a_json_array(
    tmp_path: Path, cell: str
) -> None:
    path = write(tmp_path, "m.csv", f"prompt,image_input\na fox,{cell}\n")
    spec = seedream45(only_job(path, SEEDREAM_45))
    assert spec.image_input == [URL, "https://example.com/b.png"]


def test_every_local_image_of_a_list_is_read_and_sent_inline(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(image_bytes("PNG"))
    row: dict[str, object] = {"prompt": "a fox", "image_input": ["a.png", URL]}
    path = write(tmp_path, "m.jsonl", jsonl(row))

    spec = seedream45(only_job(path, SEEDREAM_45))

    assert spec.image_input is not None
    inline, url = spec.image_input
    assert inline == "data:image/png;base64," + base64.b64encode(image_bytes("PNG")).decode()
    assert url == URL


def test_a_refused_local_image_in_a_list_is_reported_on_its_field(tmp_path: Path) -> None:
    row: dict[str, object] = {"prompt": "a fox", "image_input": [URL, "../secret.png"]}
    path = write(tmp_path, "m.jsonl", jsonl(row))
    found = problems(only_rejection(path, model=SEEDREAM_45))
    assert list(found) == ["image_input"]
    assert found["image_input"].startswith("'../secret.png' is outside the manifest's folder")


def test_a_cross_field_rule_of_4_5_is_reported_on_the_field_the_row_gave(tmp_path: Path) -> None:
    path = write(tmp_path, "m.jsonl", jsonl({"prompt": "a", "max_images": 4}))
    assert problems(only_rejection(path, model=SEEDREAM_45)) == {
        "max_images": "max_images above 1 needs sequential_image_generation 'auto': without it "
        "the model makes one image"
    }


def test_a_multi_image_jobs_key_claims_its_folder(tmp_path: Path) -> None:
    several = {"max_images": 2, "sequential_image_generation": "auto"}
    path = write(
        tmp_path,
        "m.jsonl",
        jsonl(
            {"id": "a", "prompt": "p", **several},
            {"id": "a/0", "prompt": "p"},
            {"id": "b/x", "prompt": "p"},
            {"id": "B", "prompt": "p", **several},
            {"id": "c", "prompt": "p"},
            {"id": "c/0", "prompt": "p"},
        ),
    )

    found = rows(path, model=SEEDREAM_45)

    assert [isinstance(row, JobSpec) for row in found] == [True, False, True, False, True, True]
    assert problems(found[1]) == {
        "id": "'a/0' collides with 'a' on line 1: that key's job may return several images, "
        "stored in the folder a/ (a/0.jpg, ...), and this key's path is in it: rename one"
    }
    assert problems(found[3]) == {
        "id": "'B' collides with 'b/x' on line 3: this key's job may return several images, "
        "stored in the folder B/ (B/0.jpg, ...), and that key's path is in it: rename one"
    }


# ---------------------------------------------------------------- the batch's model and price


def _no_dispatcher() -> None:
    """Nothing is woken: these tests only read what was recorded."""


def _manifest(tmp_path: Path) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps({"prompt": "a fox"}) + "\n")
    return path


def test_a_batch_records_its_model_and_that_models_price(
    table: ResultsTable, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, prices={"bytedance/seedream-4.5": 0.05})

    submission = submit_manifest(
        table, settings, _manifest(tmp_path), output="./out", batch_name="b",
        wake=_no_dispatcher, model="bytedance/seedream-4.5",
    )  # fmt: skip

    assert (submission.batch.model, submission.batch.price_per_image) == (
        "bytedance/seedream-4.5",
        0.05,
    )


def test_without_model_a_batch_calls_seedream_model_at_its_estimate(
    table: ResultsTable, tmp_path: Path
) -> None:
    settings = Settings(_env_file=None, model="bytedance/seedream-4.5")
    submission = submit_manifest(
        table, settings, _manifest(tmp_path), output="./out", batch_name="b", wake=_no_dispatcher
    )
    assert (submission.batch.model, submission.batch.price_per_image) == (
        "bytedance/seedream-4.5",
        0.04,
    )


def test_a_batch_is_not_resumed_with_another_model(table: ResultsTable, tmp_path: Path) -> None:
    manifest = _manifest(tmp_path)
    settings = Settings(_env_file=None)
    submit_manifest(table, settings, manifest, output="./o", batch_name="b", wake=_no_dispatcher)
    with pytest.raises(SubmissionError, match=r"calls bytedance/seedream-4\.0, not bytedance/"):
        submit_manifest(
            table, settings, manifest, output="./o", batch_name="b", wake=_no_dispatcher,
            model="bytedance/seedream-4.5",
        )  # fmt: skip


def test_an_unknown_model_option_is_refused_listing_the_supported_ones(
    cli_table: ResultsTable, tmp_path: Path
) -> None:
    result = runner.invoke(app, ["submit", str(_manifest(tmp_path)), "--model", "flux"])
    assert result.exit_code == 2
    assert "'flux' is not a model this version supports: use one of" in result.output
    assert "bytedance/seedream-4.5" in result.output
    assert cli_table.recent_batches() == []
