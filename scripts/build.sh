#!/usr/bin/env bash
# Builds the release WASI component and prints its path.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
no_arguments "$@"
cargo build --quiet --release --lib --target wasm32-wasip2 >&2
echo "$PWD/target/wasm32-wasip2/release/apex_ai_proxy.wasm"
