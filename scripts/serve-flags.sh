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
#   between requests but its settings and its reports on their way:
#   APEX_INSTANCE_REUSE tells it the reuse count, so a request's aepipe calls
#   are answered while the instance serves its next requests instead of
#   holding it (its last request waits for them), APEX_REPORTS_WAITING how
#   many calls may wait, and an idle instance lives 8 s (wasmtime's default:
#   1 s), longer than a report may take (7 s).
# - The pooling allocator sized for the capacity and a quarter more (plus
#   16): each request holds one component instance made of CORE_INSTANCES
#   core instances, one memory and TABLES tables (counted from the built
#   component: `wasm-tools print`), and an instance whose answer is out may
#   still be busy with its reports when its client's next request arrives.
# - Connections capped below what the descriptor limit allows, so the
#   process can never run out of descriptors on accept() (wasmtime serve
#   exits when it does): a connection holds 2 descriptors while it streams
#   (client, upstream), and its instance up to APEX_REPORTS_WAITING more
#   for report calls on their way.
# Usage: scripts/serve-flags.sh   (the caller raises `ulimit -n` first)
set -euo pipefail
. "$(dirname "$0")/common.sh"
no_arguments "$@"

capacity=${APEX_CAPACITY:-5000}
case $capacity in '' | *[!0-9]* | 0) echo "serve-flags.sh: APEX_CAPACITY must be a whole number above 0" >&2; exit 2 ;; esac
CORE_INSTANCES=3
TABLES=3
REUSE=1000
IDLE=8s
RESERVED_FDS=256

# A connection holds the client's and the upstream's descriptors; with
# reporting its instance may also hold report calls waiting for an answer:
# one request's 2 at least, more where the descriptors allow (at most 64).
per_connection=2
waiting=0
if [ -n "${AEPIPE_BASE_URL:-}" ]; then waiting=2; fi
fds=$(ulimit -n)
if [ "$fds" = unlimited ]; then fds=1048576; fi
by_fds=$(( (fds - RESERVED_FDS) / (per_connection + waiting) ))
if [ "$by_fds" -lt 1 ]; then by_fds=1; fi
if [ "$by_fds" -lt "$capacity" ]; then
  echo "serve-flags.sh: $fds file descriptors allow $by_fds concurrent connections, not $capacity (raise ulimit -n)" >&2
  capacity=$by_fds
fi
if [ "$waiting" -gt 0 ]; then
  waiting=$(( (fds - RESERVED_FDS) / capacity - per_connection ))
  if [ "$waiting" -gt 64 ]; then waiting=64; fi
fi
# Instances beyond the requests: one whose answer is out may still be sending
# its reports while its client's next request needs an instance of its own.
instances=$((capacity + capacity / 4 + 16))
echo "  capacity: $capacity concurrent requests (APEX_CAPACITY; descriptors: $fds, $((per_connection + waiting)) per connection)" >&2

printf '%s\n' \
  --max-instance-reuse-count "$REUSE" --env "APEX_INSTANCE_REUSE=$REUSE" \
  --env "APEX_REPORTS_WAITING=$(( waiting < 2 ? 2 : waiting ))" \
  --idle-instance-timeout "$IDLE" \
  --max-concurrent-connections "$capacity" \
  --max-concurrent-requests "$capacity" \
  -O "pooling-allocator=y,pooling-total-component-instances=$instances,pooling-total-core-instances=$((instances * CORE_INSTANCES)),pooling-total-memories=$instances,pooling-total-tables=$((instances * TABLES)),pooling-total-stacks=$instances"
