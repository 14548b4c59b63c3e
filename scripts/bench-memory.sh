#!/usr/bin/env bash
# Peak memory of one big request per path: a fresh wasmtime serve (the
# shipped flags) per path, one body of small items (32 MiB unless --mib N),
# the growth of the host's peak RSS printed in MiB and as a multiple of the
# body (benches/memory/; docs/security.md, "Memory is bounded").
# Usage: scripts/bench-memory.sh [--mib N] [--only NAME-PREFIX,...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
scripts/setup.sh test >&2
export APEX_COMPONENT
APEX_COMPONENT=$(scripts/build.sh)
.tools/venv/bin/python benches/memory/main.py "$@"
