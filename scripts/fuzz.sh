#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_targets) for the given seconds each (default
# 60) with cargo-fuzz on stable Rust (no sanitizer). Corpora persist in
# fuzz/corpus/ (ignored by git) so later runs go deeper. Usage:
#   scripts/fuzz.sh [SECONDS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'
  exit 0
fi
seconds="${1:-60}"
case "$seconds" in (*[!0-9]*|"") echo "fuzz.sh: SECONDS must be a number, got '$seconds'" >&2; exit 2;; esac
shift || true
scripts/setup.sh fuzz
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=($(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v apex-ai-proxy-fuzz))
fi
cd fuzz
for target in "${targets[@]}"; do
  echo "== fuzz $target for ${seconds}s" >&2
  mkdir -p "corpus/$target"
  log="target/fuzz-$target.log"
  mkdir -p target
  if ! ../.tools/cargo/bin/cargo-fuzz run --sanitizer none "$target" "corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 > "$log" 2>&1; then
    tail -40 "$log" >&2
    if grep -q "failed to build fuzz script" "$log"; then
      echo "fuzz.sh: $target did not build (the errors are above)" >&2
    else
      echo "fuzz.sh: $target failed (the crashing input is under fuzz/artifacts/$target)" >&2
    fi
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)' "$log" | tr '\n' ' ' >&2
  echo >&2
done
