# Sourced by the scripts in scripts/: usage from the calling script's header
# comment, and the argument checks every script shares.

# Prints the calling script's header comment (line 2 to the first non-comment line).
usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }

# `--help`/`-h` prints the usage and exits 0.
help_requested() {
  case "${1:-}" in -h|--help) usage; exit 0 ;; esac
}

# For scripts that take no arguments: `--help` or nothing, else exit 2.
no_arguments() {
  help_requested "$@"
  if [ $# -gt 0 ]; then
    echo "$(basename "$0"): unknown argument '$1'" >&2
    usage >&2
    exit 2
  fi
}
