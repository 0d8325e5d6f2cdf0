#!/usr/bin/env bash
# From a fresh clone: set everything up and run the main job — the sample manifest, embedded
# (no Redis, no S3), against the bundled Cloudflare emulator; images land in ./output.
# Arguments go to `seedream-batch run`. EMULATOR_PORT picks the emulator's port (default: a
# free one the OS gives); DEMO_MANIFEST another manifest. Exits with `run`'s code.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

manifest=${DEMO_MANIFEST:-examples/prompts.jsonl}
# The emulator binds the port itself and says which it got: port 0 lets the OS choose a free
# one on 127.0.0.1, so a server already on 8787 (or any port) is never the one we talk to.
announced=$(mktemp)
.venv/bin/seedream-batch emulator --port "${EMULATOR_PORT:-0}" --account-id acct --api-token tok \
    --latency 2 --jitter 1 >"$announced" &
emulator=$!
stop_emulator() {
    status=$?
    kill "$emulator" 2>/dev/null || true
    wait "$emulator" 2>/dev/null || true
    rm -f "$announced"
    exit "$status"  # the run's code, never that of a cleanup step
}
trap stop_emulator EXIT

base=""
for _ in $(seq 100); do
    if ! kill -0 "$emulator" 2>/dev/null; then
        echo "demo: the emulator did not start (above: why); unset EMULATOR_PORT to let the" \
            "OS pick a free port, or choose another" >&2
        exit 2
    fi
    base=$(grep -o -m 1 'http://[^ ]*' "$announced" || true)
    if [ -n "$base" ] && .venv/bin/python -c \
        "import httpx, sys; sys.exit(httpx.get('$base/__emulator/stats').status_code != 200)" \
        2>/dev/null; then
        break
    fi
    base=""
    sleep 0.1
done
[ -n "$base" ] || { echo "demo: the emulator did not answer within 10 s" >&2; exit 2; }

export CLOUDFLARE_API_BASE="$base" CLOUDFLARE_ACCOUNT_ID=acct CLOUDFLARE_API_TOKEN=tok
.venv/bin/seedream-batch run "$manifest" --out ./output "$@"
