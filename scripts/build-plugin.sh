#!/usr/bin/env bash
# Builds pk's zellij plugin (pk-zellij-plugin, wasm32-wasip1) and puts it where the pk binary
# embeds it from: pk-cli/assets/pk-zellij-plugin.wasm. Users need no wasm toolchain: the file
# is committed. `--check` builds it and fails if the committed file differs from what the
# source builds to (CI runs this).
set -euo pipefail
cd "$(dirname "$0")/.."

carried=pk-cli/assets/pk-zellij-plugin.wasm
built=target/wasm32-wasip1/release/pk-zellij-plugin.wasm

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
  echo "build-plugin: adding the wasm32-wasip1 target"
  rustup target add wasm32-wasip1
fi

# Reproducible: cargo names workspace sources by relative paths, so the file does not depend on
# where the checkout is; dependencies are named by their path under CARGO_HOME (their panic
# messages carry it), which is mapped to one name so the file does not depend on whose machine
# built it either.
export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="--remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
cargo build -p pk-zellij-plugin --target wasm32-wasip1 --release --locked

if [ "${1:-}" = "--check" ]; then
  if ! cmp -s "$built" "$carried"; then
    echo "build-plugin: $carried is not what pk-zellij-plugin/ builds to" >&2
    echo "  hint: run scripts/build-plugin.sh and commit $carried" >&2
    exit 1
  fi
  echo "build-plugin: $carried matches its source ($(wc -c <"$carried") bytes)"
else
  cp "$built" "$carried"
  echo "build-plugin: wrote $carried ($(wc -c <"$carried") bytes)"
fi
