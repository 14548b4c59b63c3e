#!/usr/bin/env bash
# Proxy overhead on loopback: direct vs through wasmtime serve; prints figures.
# Extra arguments go to the bench: --concurrency N --seconds S
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh serve
component=$(scripts/build.sh)
cargo bench --quiet --bench overhead -- --component "$component" --wasmtime .tools/wasmtime "$@"
