#!/usr/bin/env bash
# Pushes the release of scripts/release.sh to an OCI registry, twice:
#   PREFIX/apex-ai-proxy:VERSION            the Spin application (spin registry push)
#   PREFIX/apex-ai-proxy-component:VERSION  the plain component (wkg oci push)
# and prints both references. Log in first (`spin registry login`, and
# `docker login` or WKG_OCI_USERNAME/WKG_OCI_PASSWORD for wkg).
# Run them:  spin up --from PREFIX/apex-ai-proxy:VERSION --env ...
#            wkg oci pull PREFIX/apex-ai-proxy-component:VERSION -o apex-ai-proxy.wasm
#            wasmtime serve -S cli --env ... apex-ai-proxy.wasm
# Usage: scripts/publish.sh [--insecure] PREFIX   e.g. ghcr.io/you
#   --insecure: the registry speaks plain HTTP (a local one)
# Environment: APEX_RELEASE (the release folder; default dist/apex-ai-proxy-VERSION).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
insecure=false
if [ "${1:-}" = --insecure ]; then insecure=true; shift; fi
[ $# -eq 1 ] || { usage >&2; exit 2; }
prefix=${1%/}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
release=${APEX_RELEASE:-dist/apex-ai-proxy-$version}
[ -f "$release/SHA256SUMS" ] || { echo "publish.sh: no release in $release: run scripts/release.sh" >&2; exit 1; }
(cd "$release" && sha256sum --check --quiet SHA256SUMS)
TOOLS=$PWD/.tools
spin=$(command -v spin || echo "$TOOLS/bin/spin")
registry=${prefix%%/*}
spin_flags=() wkg_flags=()
if $insecure; then spin_flags=(-k) wkg_flags=(--insecure "$registry"); fi

"$spin" registry push "${spin_flags[@]}" --from "$release/spin.toml" "$prefix/apex-ai-proxy:$version" >&2
"$TOOLS/cargo/bin/wkg" oci push "${wkg_flags[@]}" "$prefix/apex-ai-proxy-component:$version" \
  "$release/apex-ai-proxy.wasm" >&2
echo "$prefix/apex-ai-proxy:$version"
echo "$prefix/apex-ai-proxy-component:$version"
