#!/usr/bin/env bash
# Runs every check and test of the workspace, the way CI does, after installing what this
# machine lacks for them (scripts/setup.sh says what and why; the first run on a fresh machine
# took 26 minutes on 2 cores, about 12 of them building zellij once; later runs 18 to 22).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== setup"
bash scripts/setup.sh test
# The real agent CLIs, pinned, from npm (cached in PK_AGENTS_DIR; a minute the first time).
bash scripts/agents.sh
# What setup installed with cargo, first; then every tool the tests need is required.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# Snapshots (insta) are compared, never written: a change fails until it is reviewed.
export PK_REQUIRE_TMUX=1 PK_REQUIRE_ZELLIJ=1 PK_REQUIRE_AGENTS=1 PK_REQUIRE_SSHD=1 PK_REQUIRE_BROWSER=1 INSTA_UPDATE=no

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p pk-zellij-plugin --target wasm32-wasip1 --release --locked -- -D warnings
echo "== the carried zellij plugin matches its source"
bash scripts/build-plugin.sh --check
echo "== cargo test"
cargo test --workspace --locked
echo "== benchmark, quick (pk up + down and pk status; prints the ratios, fails only if a command fails)"
# In memory where possible: some VMs' ext4 is slow for minutes after mass deletions.
bench_tmp=${TMPDIR:-/tmp}
if [ -d /dev/shm ] && [ -w /dev/shm ]; then bench_tmp=/dev/shm; fi
TMPDIR=$bench_tmp PK_BENCH_QUICK=1 cargo bench -p pk-tests --bench up_down --locked
echo "== live status bench (quick: prints figures, fails only when a command fails)"
PK_BENCH_QUICK=1 cargo bench -p pk-tests --bench status --locked
echo "== conflict forecast bench (quick: prints the ratios, fails only when a command or check fails)"
PK_BENCH_QUICK=1 cargo bench -p pk-tests --bench forecast --locked
echo "== pk land bench (quick: prints the ratios, fails only when a command or check fails)"
PK_BENCH_QUICK=1 cargo bench -p pk-tests --bench land --locked
echo "== remote bench (quick: a status change on a host to the local bar, over ssh on loopback)"
PK_BENCH_QUICK=1 cargo bench -p pk-tests --bench remote --locked
echo "== web view bench (quick: a state change on the page after the tmux bar; pk serve's memory with 16 tracks)"
PK_BENCH_QUICK=1 cargo bench -p pk-tests --bench serve --locked
echo "== fuzzing, bounded (PK_FUZZ_SECONDS per target, default 20; 0 skips it)"
if [ "${PK_FUZZ_SECONDS:-20}" != 0 ]; then
  bash scripts/fuzz.sh "${PK_FUZZ_SECONDS:-20}"
fi
