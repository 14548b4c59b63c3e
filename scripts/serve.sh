#!/usr/bin/env bash
# Sets up, builds and serves the proxy under wasmtime serve on 127.0.0.1:8787.
# Passthrough works with no configuration (public HTTPS upstreams only); for
# gateway mode export ACCOUNT_ID, GATEWAY_ID and GATEWAY_TOKEN first.
# Every setting of the README's configuration table set in this shell is passed on.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh serve
component=$(scripts/build.sh)
addr="${APEX_ADDR:-127.0.0.1:8787}"
env_args=()
for name in ACCOUNT_ID GATEWAY_ID GATEWAY_TOKEN GATEWAY_BASE_URL AZURE_RESOURCE AZURE_API_VERSION \
  AEPIPE_BASE_URL AEPIPE_TOKEN PASSTHROUGH_ALLOWED_HOSTS PASSTHROUGH_ALLOW_PRIVATE MAX_BODY_BYTES \
  UPSTREAM_CONNECT_TIMEOUT_MS UPSTREAM_FIRST_BYTE_TIMEOUT_MS UPSTREAM_IDLE_TIMEOUT_MS; do
  if [ -n "${!name:-}" ]; then env_args+=(--env "$name"); fi
done
echo "apex-ai-proxy on http://$addr (component: $component)" >&2
exec .tools/wasmtime serve -S cli --addr "$addr" "${env_args[@]}" "$component"
