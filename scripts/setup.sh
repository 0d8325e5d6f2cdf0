#!/usr/bin/env bash
# Set up a fresh clone: a virtual environment with the project and its emulator extra installed
# (the demo runs the emulator; with --test, the test extra, which includes it, plus the local
# services the integration tests talk to). Every package is installed at the version
# constraints.txt pins, as CI installs it. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "seedream-batch needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
    exit 2
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
extras="[emulator]"
[ "${1:-}" = "--test" ] && extras="[test]"
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
    --constraint constraints.txt --editable ".${extras}"

[ "${1:-}" = "--test" ] || exit 0

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
need_package() {  # need_package COMMAND DEBIAN-PACKAGE
    command -v "$1" >/dev/null && return
    [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}

# The tests start their own redis-server on a free port, so only the binary is needed.
need_package redis-server redis-server

# PostgreSQL: the tests create (and drop) their own database on 127.0.0.1:5432.
need_package pg_ctlcluster postgresql
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    for version in $(ls /etc/postgresql); do
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432
