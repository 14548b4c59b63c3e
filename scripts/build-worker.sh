#!/usr/bin/env bash
# Builds the Cloudflare Worker into cloudflare/build: worker.js (the entry,
# cloudflare/src/entry.js, bundled with the wasm-bindgen glue) and
# index_bg.wasm, with tools installed from crates.io and npm only
# (scripts/setup.sh worker). worker-build writes the glue (index.js); it would
# download wasm-bindgen and wasm-opt from GitHub, so it is pointed at ours.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
no_arguments "$@"
TOOLS="$PWD/.tools"
export WASM_BINDGEN_BIN="$TOOLS/cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$TOOLS/node/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$TOOLS/node/node_modules/.bin/esbuild"
# Skipped when its inputs are unchanged since the last build: `wrangler dev`
# runs the build command twice on every start (once for the entry, once more
# when its file watcher is ready), and the suite builds before every run.
inputs=$( { "$TOOLS/cargo/bin/worker-build" --version; "$WASM_BINDGEN_BIN" --version
  find src cloudflare/src -type f -print0 | sort -z | xargs -0 sha256sum
  sha256sum Cargo.toml Cargo.lock cloudflare/Cargo.toml; } | sha256sum | cut -d' ' -f1)
stamp=cloudflare/build/.inputs
if [ -f cloudflare/build/worker.js ] && [ "$(cat "$stamp" 2>/dev/null)" = "$inputs" ]; then
  echo "build-worker.sh: cloudflare/build is up to date" >&2
else
  rm -f "$stamp"
  (cd cloudflare && "$TOOLS/cargo/bin/worker-build" --release >&2)
  # The wasm stays a module of its own, imported by the glue; workerd (and
  # wrangler, which bundles again) load it as compiled wasm.
  "$ESBUILD_BIN" cloudflare/src/entry.js --bundle --format=esm --platform=neutral --log-level=warning \
    --external:cloudflare:workers --external:'*.wasm' --outfile=cloudflare/build/worker.js >&2
  echo "$inputs" > "$stamp"
fi
echo "$PWD/cloudflare/build"
