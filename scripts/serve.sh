#!/usr/bin/env bash
# Sets up, builds and serves the proxy under wasmtime serve, on 127.0.0.1:8787
# unless APEX_ADDR says otherwise. Passthrough works with no configuration
# (public upstreams only); for gateway mode export ACCOUNT_ID, GATEWAY_ID and
# GATEWAY_TOKEN first. Every setting of docs/configuration.md set in
# this shell is passed on; a banner says what they amount to, then one access-log
# line per request follows on stderr.
# Usage: scripts/serve.sh
# Environment: APEX_ADDR (listen address, default 127.0.0.1:8787),
# APEX_CAPACITY (concurrent requests the server is sized for, default 5000:
# scripts/serve-flags.sh), and the settings (docs/configuration.md), e.g.
# LOG_LEVEL=error, LOG_FORMAT=json.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
no_arguments "$@"
scripts/setup.sh serve
component=$(scripts/build.sh)
addr="${APEX_ADDR:-127.0.0.1:8787}"
# The names and the banner come from the core itself (src/bin/settings.rs).
settings() { cargo run --quiet --bin apex-ai-proxy-settings -- "$@"; }
env_args=()
for name in $(settings names); do
  if [ -n "${!name:-}" ]; then env_args+=(--env "$name"); fi
done
settings summary "$addr" >&2
echo "  component: $component" >&2
# As many descriptors as the system lets this shell have: the connection cap
# below is derived from them (scripts/serve-flags.sh).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
flag_lines=$(scripts/serve-flags.sh)
mapfile -t flags <<< "$flag_lines"
exec .tools/wasmtime serve -S cli --no-logging-prefix --addr "$addr" "${flags[@]}" "${env_args[@]}" "$component"
