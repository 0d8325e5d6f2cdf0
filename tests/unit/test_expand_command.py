"""`seedream-batch expand`: the manifest a campaign stands for, on stdout, as `run` reads it."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jobs.results import ResultsTable
from jobs.spec import JobSpec
from producer.cli import app
from producer.manifest import read_manifest
from tests.support.rows import write

runner = CliRunner()
CAMPAIGN = """\
data: products.csv
prompt: "a {name}, {style} style"
id: "{sku}/{style}"
vary:
  style: [photo, sketch]
fixed: {size: 1K}
variants: 2
"""


@pytest.fixture
def folder(tmp_path: Path, cli_table: ResultsTable) -> Path:
    """A folder with the campaign and its products; settings with no broker or token."""
    write(tmp_path, "products.csv", "sku,name\nA1,red shoe\nB2,\nC3,green bag\n")
    write(tmp_path, "campaign.yaml", CAMPAIGN)
    return tmp_path


def test_expand_prints_a_manifest_row_per_combination_and_reports_bad_rows(folder: Path) -> None:
    result = runner.invoke(app, ["expand", str(folder / "campaign.yaml")])

    assert result.exit_code == 1
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["id"] for row in printed] == ["A1/photo", "A1/sketch", "C3/photo", "C3/sketch"]
    assert printed[0] == {
        "id": "A1/photo", "prompt": "a red shoe, photo style", "sku": "A1", "name": "red shoe",
        "variants": 2, "style": "photo", "size": "1K",
    }  # fmt: skip
    assert "products.csv:3: name: is empty or not given, and the prompt template reads it" in (
        result.stderr
    )
    assert "2 data rows expanded into 8 jobs, 1 row rejected" in result.stderr


def test_the_printed_manifest_makes_the_same_jobs_as_the_campaign(folder: Path) -> None:
    result = runner.invoke(app, ["expand", str(folder / "campaign.yaml")])
    manifest = write(folder, "expanded.jsonl", result.stdout)

    from_manifest = [row for row in read_manifest(manifest) if isinstance(row, JobSpec)]
    from_campaign = [
        row for row in read_manifest(folder / "campaign.yaml") if isinstance(row, JobSpec)
    ]

    assert len(from_manifest) == 8
    assert [(job.key, job.input, job.metadata, job.variant) for job in from_manifest] == [
        (job.key, job.input, job.metadata, job.variant) for job in from_campaign
    ]


def test_strict_prints_nothing_when_a_row_is_bad_and_rejects_get_the_data_rows(
    folder: Path,
) -> None:
    campaign = str(folder / "campaign.yaml")

    strict = runner.invoke(app, ["expand", campaign, "--strict"])
    rejected = runner.invoke(app, ["expand", campaign, "--rejects", str(folder / "bad.csv")])

    assert strict.exit_code == 2
    assert strict.stdout == ""
    assert "1 bad row; --strict refused the whole campaign" in strict.stderr
    assert rejected.exit_code == 1
    assert (folder / "bad.csv").read_text() == "sku,name\nB2,\n"


def test_a_campaign_that_cannot_be_used_is_one_line_and_exit_2(folder: Path) -> None:
    write(folder, "campaign.yaml", CAMPAIGN.replace("{style} style", "{style.title()} style"))

    result = runner.invoke(app, ["expand", str(folder / "campaign.yaml")])

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "campaign.yaml: prompt: '{style.title()}' is not a placeholder" in result.stderr


def test_expand_of_a_manifest_says_it_expands_campaign_files(folder: Path) -> None:
    write(folder, "m.jsonl", '{"prompt": "a cat"}\n')

    result = runner.invoke(app, ["expand", str(folder / "m.jsonl")])

    assert result.exit_code == 2
    assert "m.jsonl: is a manifest, not a campaign file (.yaml)" in result.stderr
