#!/usr/bin/env bash
# From a fresh clone: set everything up and run the main job — the sample manifest, embedded
# (no Redis, no S3), against the bundled Cloudflare emulator; images land in ./output.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

port=${EMULATOR_PORT:-8787}
.venv/bin/seedream-batch emulator --port "$port" --latency 2 --jitter 1 &
emulator=$!
trap 'kill $emulator 2>/dev/null' EXIT
for _ in $(seq 50); do
    .venv/bin/python -c "import httpx; httpx.get('http://127.0.0.1:$port/__emulator/stats')" \
        2>/dev/null && break
    sleep 0.2
done

export CLOUDFLARE_API_BASE="http://127.0.0.1:$port" CLOUDFLARE_ACCOUNT_ID=acct CLOUDFLARE_API_TOKEN=tok
.venv/bin/seedream-batch run examples/prompts.jsonl --out ./output "$@"
