#!/usr/bin/env bash
# Prints the `wasmtime serve` flags the project ships, one per line, sized for
# APEX_CAPACITY concurrent requests (default 5000; long LLM streams are
# concurrent requests), and on stderr what they were sized for. Run by
# scripts/serve.sh (the README's serve command) and read by the test suite's
# wasmtime host, so the suite runs on the flags users get.
#
# - Instance reuse: an instance serves up to 1000 requests (wasmtime's default
#   for WASIp2 is 1: a new instance per request). Measured with
#   scripts/bench.sh: half the CPU per request. The component keeps no state
#   between requests (settings are read per request).
# - The pooling allocator sized for the capacity: each request holds one
#   component instance made of CORE_INSTANCES core instances, one memory and
#   TABLES tables (counted from the built component: `wasm-tools print`).
# - Connections capped below what the descriptor limit allows, so the
#   process can never run out of descriptors on accept() (wasmtime serve
#   exits when it does): a connection holds 2 descriptors while it streams
#   (client, upstream), and 3 while its request's 2 aepipe reports are sent
#   (client, 2 report calls; the upstream's is closed by then).
# Usage: scripts/serve-flags.sh   (the caller raises `ulimit -n` first)
set -euo pipefail
. "$(dirname "$0")/common.sh"
no_arguments "$@"

capacity=${APEX_CAPACITY:-5000}
case $capacity in '' | *[!0-9]* | 0) echo "serve-flags.sh: APEX_CAPACITY must be a whole number above 0" >&2; exit 2 ;; esac
CORE_INSTANCES=3
TABLES=3
REUSE=1000
RESERVED_FDS=256

per_connection=2
if [ -n "${AEPIPE_BASE_URL:-}" ]; then per_connection=3; fi
fds=$(ulimit -n)
if [ "$fds" != unlimited ]; then
  by_fds=$(( (fds - RESERVED_FDS) / per_connection ))
  if [ "$by_fds" -lt 1 ]; then by_fds=1; fi
  if [ "$by_fds" -lt "$capacity" ]; then
    echo "serve-flags.sh: $fds file descriptors allow $by_fds concurrent connections, not $capacity (raise ulimit -n)" >&2
    capacity=$by_fds
  fi
fi
echo "  capacity: $capacity concurrent requests (APEX_CAPACITY; descriptors: $fds, $per_connection per connection)" >&2

printf '%s\n' \
  --max-instance-reuse-count "$REUSE" \
  --max-concurrent-connections "$capacity" \
  --max-concurrent-requests "$capacity" \
  -O "pooling-allocator=y,pooling-total-component-instances=$capacity,pooling-total-core-instances=$((capacity * CORE_INSTANCES)),pooling-total-memories=$capacity,pooling-total-tables=$((capacity * TABLES)),pooling-total-stacks=$capacity"
