#!/usr/bin/env bash
# Sets up and runs every test: formatting and lints, the core's unit tests
# (native), then the end-to-end suite against the built component on
# wasmtime serve (full) and jco serve (smoke subset), and against the Cloudflare
# Worker build in workerd (full).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test
echo "== cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --target wasm32-wasip2 -- -D warnings
cargo clippy --quiet -p apex-ai-proxy-cloudflare --target wasm32-unknown-unknown -- -D warnings
echo "== unit tests (core, native)"
cargo test --quiet
echo "== end-to-end"
export APEX_COMPONENT APEX_WORKER_BUILD
APEX_COMPONENT=$(scripts/build.sh)
APEX_WORKER_BUILD=$(scripts/build-worker.sh)
.tools/venv/bin/python -m pytest tests/e2e -n "${APEX_TEST_WORKERS:-2}" "$@"
