#!/usr/bin/env bash
# Builds the Cloudflare Worker (cloudflare/build: index.js + wasm) with tools
# installed from crates.io and npm only (scripts/setup.sh worker). worker-build
# would download wasm-bindgen and wasm-opt from GitHub; it is pointed at ours.
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="$PWD/.tools"
export WASM_BINDGEN_BIN="$TOOLS/cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$TOOLS/node/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$TOOLS/node/node_modules/.bin/esbuild"
cd cloudflare
"$TOOLS/cargo/bin/worker-build" --release >&2
echo "$PWD/build"
