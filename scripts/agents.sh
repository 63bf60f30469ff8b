#!/usr/bin/env bash
# Installs the agent CLIs the real-agent tests run, at the versions they pin, and ccusage (the
# tool users run today for Claude Code's costs, which the status bench measures beside pk),
# from npm into PK_AGENTS_DIR (default ~/.cache/pk/agents), one folder per program and version:
# a later run finds them there and installs nothing, so CI can cache that folder. Needs node
# and npm (installed with the system's package manager when missing, by scripts/setup.sh).
#
# Claude Code's own package wants node 22 and a postinstall step; its native binary comes in
# the platform package, which runs as it is. Gemini CLI's native add-ons (keytar, node-pty) are
# for keychains and its own terminal, which the tests do not use: their install scripts are
# skipped.
set -euo pipefail

dir="${PK_AGENTS_DIR:-$HOME/.cache/pk/agents}"
say() { printf 'agents: %s\n' "$*"; }

if ! command -v npm >/dev/null 2>&1; then
  say "the real-agent tests need node and npm; installing them"
  bash "$(dirname "$0")/setup.sh" node
fi

# name, version, npm package, program (relative), extra npm flags
install_one() {
  local name=$1 version=$2 package=$3 program=$4
  shift 4
  local into="$dir/$name-$version"
  if [ -x "$into/$program" ]; then
    return 0
  fi
  say "installing $package@$version into $into (for the real-agent tests and the status bench)"
  rm -rf "$into.partial"
  mkdir -p "$into.partial"
  npm install --prefix "$into.partial" --no-audit --no-fund --loglevel=error "$@" \
    "$package@$version" >/dev/null
  rm -rf "$into"
  mv "$into.partial" "$into"
  [ -x "$into/$program" ] || { say "$package@$version has no $program" >&2; exit 1; }
}

install_one claude 2.1.328 @anthropic-ai/claude-code-linux-x64 \
  node_modules/@anthropic-ai/claude-code-linux-x64/claude --ignore-scripts
install_one codex 0.169.0 @openai/codex node_modules/.bin/codex
install_one gemini 0.61.0 @google/gemini-cli node_modules/.bin/gemini --ignore-scripts
# 18.0.11 is the last ccusage that runs on node 20 (19 wants node 22; 20 a native binary that
# npm does not serve here).
install_one ccusage 18.0.11 ccusage node_modules/.bin/ccusage
