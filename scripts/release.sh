#!/usr/bin/env bash
# Builds the release of the committed HEAD into dist/apex-ai-proxy-VERSION/
# and prints that folder:
#   apex-ai-proxy.wasm   the WASI component, with the version (Cargo.toml)
#                        and the commit in its `version` and `revision`
#                        metadata sections (`wasm-tools metadata show`)
#   apex-ai-proxy-spin.wasm   its Spin flavour (settings also from Spin
#                        variables; scripts/build.sh --spin), the same sections
#   worker/worker.js, worker/index_bg.wasm   the Cloudflare Worker bundle
#   spin.toml            the Spin manifest pointing at the Spin flavour
#   SHA256SUMS           of all of the above
# Reproducible: built from `git archive HEAD` (uncommitted changes never
# ship), source paths remapped, so two builds of one commit give identical
# bytes wherever they run (scripts/release-check.sh proves it).
# Usage: scripts/release.sh [--out DIR]   (default: dist/)
# Environment: APEX_RELEASE_SRC (where the source is unpacked; default a
# fresh temporary folder: the path does not reach the output).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
help_requested "$@"
out_root=$PWD/dist
case "${1:-}" in
  --out) out_root=$(realpath -m "${2:?--out needs a folder}"); shift 2 ;;
  '') ;;
  *) echo "release.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac
[ $# -eq 0 ] || { echo "release.sh: unknown argument '$1'" >&2; exit 2; }

ROOT=$PWD
TOOLS=$ROOT/.tools
scripts/setup.sh worker >&2
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
revision=$(git rev-parse HEAD)
dest=$out_root/apex-ai-proxy-$version
src=${APEX_RELEASE_SRC:-$(mktemp -d)}
trap '[ -n "${APEX_RELEASE_SRC:-}" ] || rm -rf "$src"' EXIT
rm -rf "$src" && mkdir -p "$src"
git archive HEAD | tar -x -C "$src"

# One target folder for every release build: the dependencies compile once.
export CARGO_TARGET_DIR=$ROOT/target/release-dist
# The source path, the registry's and the toolchain's never reach the bytes.
cargo_home=${CARGO_HOME:-$HOME/.cargo}
export RUSTFLAGS="--remap-path-prefix=$src=/apex-ai-proxy --remap-path-prefix=$cargo_home=/cargo --remap-path-prefix=$(rustc --print sysroot)=/rust"
export SOURCE_DATE_EPOCH=0

echo "release.sh: building $version ($revision) from $src" >&2
rm -rf "$dest" && mkdir -p "$dest/worker"
# Each flavour is stamped as soon as it is built: both link to one path.
for flavour in plain spin; do
  features=() name=apex-ai-proxy.wasm
  [ "$flavour" = plain ] || features=(--features spin) name=apex-ai-proxy-spin.wasm
  (cd "$src" && cargo build --quiet --locked --release --lib --target wasm32-wasip2 "${features[@]}" >&2)
  "$TOOLS/venv/bin/python" scripts/wasm_metadata.py add \
    "$CARGO_TARGET_DIR/wasm32-wasip2/release/apex_ai_proxy.wasm" "$dest/$name" \
    version="$version" revision="$revision"
done
(cd "$src" && ln -s "$TOOLS" .tools && scripts/build-worker.sh >/dev/null)

cp "$src/cloudflare/build/worker.js" "$src/cloudflare/build/index_bg.wasm" "$dest/worker/"
sed 's|^source = "target/spin/wasm32-wasip2/release/apex_ai_proxy.wasm"|source = "apex-ai-proxy-spin.wasm"|; /^\[component.apex-ai-proxy.build\]/,$d' \
  "$src/spin.toml" > "$dest/spin.toml"
grep -q '^source = "apex-ai-proxy-spin.wasm"$' "$dest/spin.toml"
(cd "$dest" && find . -type f ! -name SHA256SUMS | sort | xargs sha256sum > SHA256SUMS)
echo "$dest"
