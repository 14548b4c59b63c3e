#!/usr/bin/env bash
# Sets up and runs every test: formatting and lints, the core's unit tests
# (native), then the end-to-end suite against the built component on
# wasmtime serve (full) and jco serve (smoke subset), and against the Cloudflare
# Worker build in workerd (full); the release built twice and compared, then
# served (tests/e2e/test_release.py).
# Usage: scripts/test.sh [PYTEST-ARGS...]   e.g. -k report, --hosts wasmtime
# Environment: APEX_TEST_WORKERS (pytest-xdist workers, default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
scripts/setup.sh test
echo "== cargo fmt / clippy"
cargo fmt --all -- --check
cargo clippy --quiet --all-targets -- -D warnings
cargo clippy --quiet --target wasm32-wasip2 -- -D warnings
cargo clippy --quiet --target wasm32-wasip2 --features spin --target-dir target/spin -- -D warnings
cargo clippy --quiet -p apex-ai-proxy-cloudflare --target wasm32-unknown-unknown -- -D warnings
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== unit tests (core, native)"
cargo test --quiet
echo "== fuzz smoke (every target 10 s; scripts/fuzz.sh SECONDS for longer)"
scripts/fuzz.sh 10
echo "== release: two builds of HEAD from two places, byte for byte (scripts/release.sh)"
export APEX_RELEASE
APEX_RELEASE=$(scripts/release.sh --out target/release-check/a)
scripts/release.sh --out target/release-check/b >/dev/null
diff -r target/release-check/a target/release-check/b
echo "identical: $(wc -l < "$APEX_RELEASE/SHA256SUMS") files ($APEX_RELEASE/SHA256SUMS)"
echo "== end-to-end"
export APEX_COMPONENT APEX_SPIN_COMPONENT APEX_WORKER_BUILD
APEX_COMPONENT=$(scripts/build.sh)
APEX_SPIN_COMPONENT=$(scripts/build.sh --spin)
APEX_WORKER_BUILD=$(scripts/build-worker.sh)
.tools/venv/bin/python -m pytest tests/e2e -n "${APEX_TEST_WORKERS:-2}" "$@"
echo "== concurrent-streams bench smoke (scripts/bench-streams.sh; every stream checked, no timing asserted)"
scripts/bench-streams.sh --streams 40 --chunks 3 --interval-ms 50
