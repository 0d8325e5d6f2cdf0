"""`seedream-batch run`: a manifest becomes stored images in one process, against the emulator."""

import os
import signal
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from tests.support.manifests import write_manifest
from tests.support.processes import CLI, clean_env, wait_until
from tests.support.services import Emulator

pytestmark = pytest.mark.integration


def run_cli(
    args: list[str], cwd: Path, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLI, *args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout
    )


def test_a_200_row_manifest_with_10_bad_rows_stores_190_images_and_bills_190_calls(
    tmp_path: Path, emulator: Emulator
) -> None:
    manifest = write_manifest(tmp_path / "jobs.jsonl", good=190, bad=10)
    assert len(manifest.bad_lines) == 10
    emulator.configure(latency_s=0.2, jitter_s=0.1)

    result = run_cli(
        ["run", "jobs.jsonl", "--out", "out", "--batch", "b1", "--rejects", "rejects.jsonl"],
        tmp_path,
        emulator.env(),
    )

    assert result.returncode == 1, result.stderr  # the batch is done, but not every row was
    images = sorted((tmp_path / "out" / "b1").glob("*.jpg"))
    assert len(images) == 190
    for image in images:
        with Image.open(image) as picture:
            assert picture.format == "JPEG"
            assert picture.size == manifest.expected_sizes[image.stem]
    for line, field in manifest.bad_lines.items():
        assert f"jobs.jsonl:{line}: {field}:" in result.stderr
    assert len((tmp_path / "rejects.jsonl").read_text().splitlines()) == 10
    assert emulator.stats()["billed"] == 190
    assert "succeeded 190" in result.stdout


def test_running_a_finished_batch_again_calls_nothing(tmp_path: Path, emulator: Emulator) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=12)
    first = run_cli(
        ["run", "jobs.jsonl", "--out", "out", "--batch", "again"], tmp_path, emulator.env()
    )
    assert first.returncode == 0, first.stderr

    second = run_cli(
        ["run", "jobs.jsonl", "--out", "out", "--batch", "again"], tmp_path, emulator.env()
    )

    assert second.returncode == 0, second.stderr
    assert "0 jobs to run" in second.stderr
    assert emulator.stats()["billed"] == 12


def test_a_missing_token_is_one_line_naming_the_variable(
    tmp_path: Path, emulator: Emulator
) -> None:
    env = emulator.env()
    del env["CLOUDFLARE_API_TOKEN"]
    result = run_cli(["run", str(Path(__file__)), "--out", "out"], tmp_path, env)
    assert result.returncode == 2
    assert "CLOUDFLARE_API_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_run_killed_mid_batch_finishes_when_run_again_with_the_same_batch(
    tmp_path: Path, emulator: Emulator
) -> None:
    write_manifest(tmp_path / "jobs.jsonl", good=40)
    emulator.configure(latency_s=0.5)
    env = {**os.environ, **emulator.env(), "SEEDREAM_CONCURRENCY": "4"}
    args = [CLI, "run", "jobs.jsonl", "--out", "out", "--batch", "killed"]
    first = subprocess.Popen(
        args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    wait_until(lambda: len(list(tmp_path.glob("out/killed/*.jpg"))) >= 8, 60, "8 images stored")
    first.send_signal(signal.SIGKILL)
    first.wait()
    stored_before = len(list(tmp_path.glob("out/killed/*.jpg")))
    assert stored_before < 40

    second = run_cli(
        ["run", "jobs.jsonl", "--out", "out", "--batch", "killed"],
        tmp_path,
        {**emulator.env(), "SEEDREAM_CONCURRENCY": "4"},
    )

    assert second.returncode == 0, second.stderr
    assert "succeeded 40" in second.stdout
    assert len(list(tmp_path.glob("out/killed/*.jpg"))) == 40
    # at most the calls in flight when the process died are paid twice
    assert emulator.stats()["billed"] <= 40 + 4
