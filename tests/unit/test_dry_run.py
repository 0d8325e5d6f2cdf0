"""`--dry-run` and `expand --estimate`: every row checked, the jobs, images, cost and time told,
and nothing recorded, sent or stored."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from config.settings import get_settings
from producer.cli import app
from tests.support.rows import write

runner = CliRunner()
BAD_ROW = {"prompt": "x", "size": "5K"}
ROWS = [*({"id": f"k{n}", "prompt": f"picture {n}"} for n in range(4)), BAD_ROW]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder with a manifest; settings naming a table that does not exist, and a broker and
    an output no test may reach: a dry run touches none of them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SEEDREAM_DATABASE_URL", f"sqlite:///{tmp_path / 'never.db'}")
    monkeypatch.setenv("SEEDREAM_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setenv("SEEDREAM_OUTPUT", str(tmp_path / "never-written"))
    monkeypatch.setenv("SEEDREAM_RATE_LIMIT", "60/60s")
    monkeypatch.delenv("CLOUDFLARE_API_TOKEN", raising=False)
    get_settings.cache_clear()
    write(tmp_path, "m.jsonl", "".join(json.dumps(row) + "\n" for row in ROWS))
    yield tmp_path
    get_settings.cache_clear()


@pytest.mark.parametrize("command", ["run", "submit"])
def test_a_dry_run_tells_jobs_cost_and_time_and_touches_nothing(folder: Path, command: str) -> None:
    result = runner.invoke(app, [command, "m.jsonl", "--dry-run", "--rejects", "bad.jsonl"])

    assert result.exit_code == 1  # as the run would: a row rejected
    assert "m.jsonl: 4 jobs from the valid rows, 1 row rejected; nothing was recorded" in (
        result.stdout
    )
    assert "about $0.12 for the provider (4 × $0.03), before Unified Billing's ~5 % credit" in (
        result.stdout
    )
    assert "1 gateway × 60/60s = 60 images per minute" in result.stdout
    assert "m.jsonl:5: size:" in result.stderr
    assert (folder / "bad.jsonl").read_text() == json.dumps(BAD_ROW) + "\n"
    assert not (folder / "never.db").exists()
    assert not (folder / "never-written").exists()


def test_a_dry_run_says_what_strict_and_max_cost_would_refuse(folder: Path) -> None:
    strict = runner.invoke(app, ["run", "m.jsonl", "--dry-run", "--strict"])
    dear = runner.invoke(app, ["run", "m.jsonl", "--dry-run", "--max-cost", "0.1"])
    partial = runner.invoke(
        app, ["run", "m.jsonl", "--dry-run", "--max-cost", "0.1", "--allow-partial"]
    )

    assert strict.exit_code == 2
    assert "✗ dry run: " in strict.stdout
    assert "--strict would refuse the whole manifest" in strict.stdout
    assert dear.exit_code == 2
    assert "✗ budget: $0.12 is over --max-cost $0.1: a run would be refused" in dear.stdout
    assert partial.exit_code == 1
    assert "would pause once about 3 images are paid for" in partial.stdout


def test_a_dry_run_counts_every_image_a_4_5_job_may_be_billed_for(folder: Path) -> None:
    row = {"prompt": "a comic", "sequential_image_generation": "auto", "max_images": 4}
    write(folder, "sets.jsonl", json.dumps(row) + "\n")

    result = runner.invoke(
        app, ["run", "sets.jsonl", "--dry-run", "--model", "bytedance/seedream-4.5"]
    )

    assert result.exit_code == 0, result.stderr
    assert "1 job from the valid rows" in result.stdout
    assert "(4 images)" in result.stdout


def test_expand_estimate_prices_a_campaign_instead_of_printing_it(folder: Path) -> None:
    write(folder, "products.csv", "sku,name\nA1,mug\nB2,cup\n")
    campaign = 'data: products.csv\nprompt: "a {name}"\nvary: {aspect_ratio: ["1:1", "9:16"]}\n'
    write(folder, "campaign.yaml", campaign)

    result = runner.invoke(app, ["expand", "campaign.yaml", "--estimate"])

    assert result.exit_code == 0, result.stderr
    assert not result.stdout.startswith("{")
    assert "campaign.yaml: 4 jobs from the valid rows, 0 rows rejected" in result.stdout
    assert "about $0.12 for the provider (4 × $0.03)" in result.stdout
