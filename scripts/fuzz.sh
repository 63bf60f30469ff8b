#!/usr/bin/env bash
# Fuzzes pk's parsers of untrusted input (fuzz/): the plan, every transcript format, the zellij
# bar's status file. Each target runs for SECONDS (default 60), seeded with the fixtures; any
# crash fails the script and leaves its input in fuzz/artifacts/<target>/ (keep it as a
# regression test: pk-status/tests/fuzz_regressions/ or pk-cli's plan tests).
#
#   scripts/fuzz.sh            # every target, 60 s each
#   scripts/fuzz.sh 20         # every target, 20 s each
#   scripts/fuzz.sh 300 plan   # one target
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-60}"
shift || true

toolchain="${PK_FUZZ_TOOLCHAIN:-nightly}"
bash scripts/setup.sh fuzz
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cargo "+$toolchain" fuzz list)
fi

# Seeds: the fixture transcripts for the transcript targets, the example and fixture plans for
# the plan target. The corpus folders are kept between runs (and ignored by git).
seed() {
  local target="$1" dir="fuzz/corpus/$1"
  mkdir -p "$dir"
  local files=()
  case "$target" in
    plan) files=(examples/*.toml tests/fixtures/plans/*/*.toml) ;;
    status_file) files=() ;;
    lines) files=(pk-status/tests/fixtures/*) ;;
    *) files=(pk-status/tests/fixtures/"${target//_/-}"-*) ;;
  esac
  for f in "${files[@]}"; do
    [ -f "$f" ] && cp -n "$f" "$dir/" 2>/dev/null || true
  done
  for f in pk-status/tests/fuzz_regressions/"$target"/*; do
    [ -f "$f" ] && cp -n "$f" "$dir/" 2>/dev/null || true
  done
}

echo "fuzz: building ${#targets[@]} targets"
cargo "+$toolchain" fuzz build

failed=()
for target in "${targets[@]}"; do
  seed "$target"
  echo "== fuzz $target for ${seconds}s"
  # -rss_limit_mb: a transcript line may be 4 MiB and is held a few times over.
  if ! cargo "+$toolchain" fuzz run "$target" "fuzz/corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
    2>"fuzz/$target.log"; then
    grep -a -m1 -A6 'panicked at\|ERROR: libFuzzer\|ERROR: AddressSanitizer' "fuzz/$target.log" |
      cut -c1-400 || tail -n 20 "fuzz/$target.log"
    grep -a -o 'fuzz/artifacts/[a-z_]*/[a-z-]*-[0-9a-f]\{40\}' "fuzz/$target.log" | sort -u | sed 's/^/  input: /' || true
    failed+=("$target")
  else
    grep -E '^(stat::number_of_executed_units|stat::new_units_added)' "fuzz/$target.log" |
      sed "s/^/  $target /" || true
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: crashes in ${failed[*]}; inputs in fuzz/artifacts/" >&2
  exit 1
fi
echo "fuzz: no crash in ${#targets[@]} targets (${seconds}s each)"
