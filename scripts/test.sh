#!/usr/bin/env bash
# From a fresh clone: set everything up and run the whole test suite (arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest "$@"
