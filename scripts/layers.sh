#!/usr/bin/env bash
# Prints who imports whom among the core's top-level modules and the hosts'
# size in code lines, and fails on an import cycle or a host over its budget
# (docs/architecture.md, "Layers"). The test command runs the same checks.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
no_arguments "$@"
cargo test --quiet --test layers -- --nocapture --test-threads 1 2>&1 | grep -v '^running\|^test result\|^$'
