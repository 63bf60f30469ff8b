#!/usr/bin/env bash
# Installs pk on this machine: git and tmux from the system's package manager when they are
# missing (scripts/setup.sh), then the `pk` binary with `cargo install --locked` into
# $CARGO_HOME/bin. Run again to update; it changes nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh run
echo "install: building pk (cargo install --locked --path pk-cli; about 2 minutes the first time)"
cargo install --locked --quiet --path pk-cli
bin="${CARGO_HOME:-$HOME/.cargo}/bin"
echo "install: pk is $bin/pk ($("$bin/pk" --version))"
case ":$PATH:" in
  *":$bin:"*) ;;
  *) echo "install: $bin is not on your PATH; add it (export PATH=\"$bin:\$PATH\") to run \`pk\`" ;;
esac
