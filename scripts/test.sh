#!/usr/bin/env bash
# Runs every check and test of the workspace, the way CI does.
set -euo pipefail
cd "$(dirname "$0")/.."
export PK_REQUIRE_TMUX=1

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
