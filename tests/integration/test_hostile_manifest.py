"""A manifest full of hostile rows, through the real `seedream-batch run` against the emulator:
every bad row is reported by line and field, every good row's image is stored, nothing else is
written anywhere."""

import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy

from tests.support.databases import connected
from tests.support.hostile_manifest import plant_files, write_hostile_manifest
from tests.support.processes import CLI
from tests.support.services import Emulator

pytestmark = pytest.mark.integration


def files_under(root: Path) -> set[Path]:
    """Every file and symlink under `root`, relative to it."""
    return {path.relative_to(root) for path in root.rglob("*") if not path.is_dir()}


@pytest.mark.parametrize("name", ["jobs.jsonl", "jobs.csv"])
def test_every_bad_row_is_reported_and_only_the_good_rows_images_are_stored(
    tmp_path: Path, emulator: Emulator, name: str, child_env: dict[str, str]
) -> None:
    folder = tmp_path / "in"
    plant_files(folder)
    manifest = write_hostile_manifest(folder / name)
    rejects = f"rejects{manifest.path.suffix}"
    before = files_under(tmp_path)

    result = subprocess.run(
        [CLI, "run", f"in/{name}", "--out", "out", "--batch", "hostile", "--rejects", rejects],
        cwd=tmp_path,
        env={**child_env, **emulator.env()},
        capture_output=True,
        text=True,
        errors="replace",
        timeout=300,
    )

    assert result.returncode == 1, result.stderr[-3000:]  # done, but rows were rejected
    # every bad row, on its line and field; no other line reported
    for line, field in manifest.bad_lines.items():
        assert f"in/{name}:{line}: {field}:" in result.stderr, (line, field)
    in_order = [int(n) for n in re.findall(rf"^in/{re.escape(name)}:(\d+): ", result.stderr, re.M)]
    assert set(in_order) == set(manifest.bad_lines)
    # reported, and written to the rejects file, in the manifest's line order
    assert in_order == sorted(in_order)
    if name.endswith(".jsonl"):
        lines = (folder / name).read_bytes().split(b"\n")
        expected = [lines[number - 1] for number in sorted(manifest.bad_lines)]
        written = (tmp_path / rejects).read_bytes().split(b"\n")[:-1]
        # an overlong row is written as far as it was read
        assert len(written) == len(expected)
        pairs = zip(written, expected, strict=True)
        assert all(line.startswith(row) and row for row, line in pairs)
    good, bad = len(manifest.good_keys), len(manifest.bad_lines)
    assert f"batch hostile: {good} jobs queued, {bad} rows rejected" in result.stderr
    assert f"succeeded {good}" in result.stdout
    # every good row's image, and no other object, in the batch's folder
    assert files_under(tmp_path / "out") == {
        Path("hostile", f"{k}.jpg") for k in manifest.good_keys
    }
    # nothing written outside the output folder but the table and the rejects file
    created = files_under(tmp_path) - before
    others = {path for path in created if path.parts[0] != "out"}
    assert others <= {Path("seedream.db"), Path("seedream.db-wal"), Path("seedream.db-shm"),
                      Path(rejects)}  # fmt: skip
    assert not Path("/abs.jpg").exists()
    # only good rows reached the table; local images went as data URIs, the secret never did
    with connected(f"sqlite:///{tmp_path / 'seedream.db'}") as conn:
        stored: dict[str, str] = dict(
            conn.execute(sqlalchemy.text("SELECT key, spec FROM jobs")).all()
        )
    assert sorted(stored) == sorted(manifest.good_keys)
    assert '"image": "data:image/png;base64,' in stored["good/edit-png"]
    assert '"image": "data:image/jpeg;base64,' in stored["good/edit-jpg"]
    assert emulator.stats()["billed"] == good
