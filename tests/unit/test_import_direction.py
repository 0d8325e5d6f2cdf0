"""Imports run one way: `jobs/` <- `config/` <- `worker/` <- `producer/`, the CLI above all.

The contracts are import-linter's, in pyproject.toml (`[tool.importlinter]`), so `lint-imports`
says the same by hand; docs/design.md says what they hold and why. import-linter reads every
import statement, those inside functions too, so an import moved into a function to dodge a
cycle breaks the acyclic contract instead of hiding it.
"""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def test_every_import_contract_is_kept() -> None:
    linted = subprocess.run(
        [LINT_IMPORTS, "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert linted.returncode == 0, linted.stdout + linted.stderr
    assert "0 broken" in linted.stdout


def test_the_contracts_cover_every_shipped_package_in_layers_producer_worker_config_jobs() -> None:
    tools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    config = tools["importlinter"]
    contracts = {contract["type"]: contract for contract in config["contracts"]}
    packages = sorted(
        name.rstrip("*") for name in tools["setuptools"]["packages"]["find"]["include"]
    )

    assert sorted(config["root_packages"]) == packages
    assert contracts["layers"]["layers"] == ["producer", "worker", "config", "jobs"]
    assert sorted(contracts["acyclic_siblings"]["ancestors"]) == packages
