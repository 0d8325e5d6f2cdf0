#!/usr/bin/env bash
# From a fresh clone: set everything up, run the checks that hold the line, then the whole test
# suite (arguments go to pytest). The import-direction rule is a test, so pytest runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
.venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
