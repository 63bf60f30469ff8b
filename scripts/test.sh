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
echo "== benchmark, quick (pk up + down and pk status; prints the ratios, fails only if a command fails)"
# In memory where possible: some VMs' ext4 is slow for minutes after mass deletions.
bench_tmp=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ -w /dev/shm ]; then bench_tmp=/dev/shm; fi
TMPDIR=$bench_tmp PK_BENCH_QUICK=1 cargo bench -p pk-cli --bench up_down --locked
