#!/usr/bin/env bash
# Installs what pk needs and a fresh machine lacks, saying what and why; quick and silent but for
# one line when everything is there. Called by scripts/install.sh (to run pk) and
# scripts/test.sh (to test it); safe to run any number of times.
#
#   scripts/setup.sh run     # git and tmux 3.2+: what `pk up` and `pk demo` drive
#   scripts/setup.sh test    # the above, plus what the tests drive: the wasm32-wasip1 target,
#                            # zellij 0.45, OpenSSH's client and server, Chromium and its
#                            # WebDriver, and (unless PK_FUZZ_SECONDS=0) what `fuzz` installs
#   scripts/setup.sh fuzz    # nightly Rust and cargo-fuzz, for scripts/fuzz.sh
#   scripts/setup.sh node    # node and npm, for scripts/agents.sh (the real agent CLIs)
#
# System packages come from the system's package manager (apt, dnf, pacman, apk, zypper or
# Homebrew; through sudo when not root); Rust ones through rustup and `cargo install --locked`,
# into $CARGO_HOME/bin (scripts/test.sh puts that first on PATH).
set -euo pipefail

what="${1:-test}"
case "$what" in
  run | test | fuzz | node) ;;
  *)
    echo "setup: usage: scripts/setup.sh run|test|fuzz|node" >&2
    exit 2
    ;;
esac

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: %s\n' "$1" >&2
  shift
  for hint in "$@"; do printf '  hint: %s\n' "$hint" >&2; done
  exit 1
}

# Installs system packages by their Debian names (the others' are the same for these).
system_install() {
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 ||
      die "installing $* needs root, and sudo is not installed" "install $* as root, then run this again"
    sudo=(sudo)
  fi
  if command -v apt-get >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    "${sudo[@]}" dnf install -y -q "$@"
  elif command -v pacman >/dev/null 2>&1; then
    "${sudo[@]}" pacman -S --noconfirm --needed "$@"
  elif command -v apk >/dev/null 2>&1; then
    "${sudo[@]}" apk add -q "$@"
  elif command -v zypper >/dev/null 2>&1; then
    "${sudo[@]}" zypper --non-interactive install "$@"
  elif command -v brew >/dev/null 2>&1; then
    brew install "$@"
  else
    die "no package manager this script knows (apt, dnf, pacman, apk, zypper, brew)" \
      "install $* yourself, then run this again"
  fi
}

# tmux 3.2 or newer: `tmux -V` prints `tmux 3.3a` (or `tmux next-3.4`, `tmux master`).
tmux_ok() {
  local v
  v=$(tmux -V 2>/dev/null) || return 1
  [[ "$v" =~ ([0-9]+)\.([0-9]+) ]] || return 0
  local major=${BASH_REMATCH[1]} minor=${BASH_REMATCH[2]}
  [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 2 ]; }
}

# What `cargo install` makes goes here; first on PATH, so what this installs is what runs.
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"

need_rustup() {
  command -v rustup >/dev/null 2>&1 ||
    die "testing pk needs rustup (for the wasm32-wasip1 target and, to fuzz, nightly Rust)" \
      "install Rust with rustup (https://rustup.rs), then run this again"
}

# Fuzzing (scripts/fuzz.sh) needs nightly Rust and cargo-fuzz.
fuzz_setup() {
  need_rustup
  local toolchain="${PK_FUZZ_TOOLCHAIN:-nightly}"
  if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
    say "installing the $toolchain toolchain (the fuzz targets need it)"
    rustup toolchain install "$toolchain" --profile minimal
  fi
  if ! cargo fuzz --version >/dev/null 2>&1; then
    say "installing cargo-fuzz with cargo into $cargo_bin (runs the fuzz targets; about 2 minutes, once)"
    cargo install cargo-fuzz --locked --quiet
  fi
}
if [ "$what" = fuzz ]; then
  fuzz_setup
  exit 0
fi
if [ "$what" = node ]; then
  if ! command -v npm >/dev/null 2>&1; then
    say "installing node and npm with the system's package manager (the agent CLIs come from npm)"
    system_install nodejs npm
  fi
  exit 0
fi

missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
tmux -V >/dev/null 2>&1 || missing+=(tmux)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} with the system's package manager (pk drives git and tmux)"
  system_install "${missing[@]}"
fi
tmux_ok || die "pk needs tmux 3.2 or newer; this machine has $(tmux -V 2>/dev/null || echo none)" \
  "install a newer tmux (from your distribution's backports, or Homebrew), then run this again"

if [ "$what" = run ]; then
  say "ready to run pk: $(git --version), $(tmux -V)"
  exit 0
fi

need_rustup

# The zellij plugin is checked by building it for wasm32-wasip1.
if ! rustup target list --installed | grep -qx wasm32-wasip1; then
  say "adding the wasm32-wasip1 target (the zellij plugin is built and checked for it)"
  rustup target add wasm32-wasip1
fi

# zellij itself, for the zellij end-to-end tests: the exact minor version pk's plugin is built
# against. Built from crates.io: no release binary is downloaded.
if ! zellij --version 2>/dev/null | grep -q '^zellij 0\.45\.'; then
  say "installing zellij 0.45.1 with cargo into $cargo_bin (the zellij tests drive it; about 12 minutes on 2 cores, once)"
  cargo install zellij --version 0.45.1 --locked --quiet
fi

# OpenSSH, for the remote-host tests: the client pk drives and a server the tests start on
# 127.0.0.1 with throwaway keys (never the machine's own sshd or ~/.ssh).
sshd_path() { command -v sshd 2>/dev/null || { [ -x /usr/sbin/sshd ] && echo /usr/sbin/sshd; }; }
if ! command -v ssh >/dev/null 2>&1 || [ -z "$(sshd_path)" ]; then
  say "installing openssh-server with the system's package manager (the remote-host tests start an sshd on 127.0.0.1)"
  system_install openssh-client openssh-server
  # Debian starts the service; the tests run their own on another port, so it may run or not.
fi

# A headless browser, for the web view's tests (`pk serve`): Chromium and its WebDriver.
if ! { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } ||
  ! command -v chromedriver >/dev/null 2>&1; then
  say "installing chromium and chromium-driver with the system's package manager (the web view's tests drive a headless browser; about a minute, once)"
  system_install chromium chromium-driver
fi

[ "${PK_FUZZ_SECONDS:-20}" = 0 ] || fuzz_setup

say "ready to test pk: $(git --version), $(tmux -V), $(zellij --version), $(ssh -V 2>&1)"
