#!/usr/bin/env bash
# Builds the release WASI component and prints its path.
# Usage: scripts/build.sh [--spin]
#   (none)  the component every WASI host runs: settings from the environment
#   --spin  the Spin flavour spin.toml runs (the `spin` feature: a setting the
#           environment lacks is read as a Spin variable), in its own target
#           folder so that neither build overwrites the other
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
case "${1:-}" in
  '') cargo build --quiet --release --lib --target wasm32-wasip2 >&2
      echo "$PWD/target/wasm32-wasip2/release/apex_ai_proxy.wasm" ;;
  --spin) cargo build --quiet --release --lib --target wasm32-wasip2 --features spin --target-dir target/spin >&2
      echo "$PWD/target/spin/wasm32-wasip2/release/apex_ai_proxy.wasm" ;;
  *) echo "build.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac
