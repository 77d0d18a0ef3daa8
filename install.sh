#!/usr/bin/env bash
# Build abg from source with the installed cargo and install the binary and
# its shell completions. Idempotent: re-running upgrades in place.
#   PREFIX   install root (default: ~/.local) — the binary goes to $PREFIX/bin
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${PREFIX:-$HOME/.local}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "install.sh: cargo not found; install Rust (https://rustup.rs) and retry" >&2
  exit 1
fi

echo "==> building abg (release) from $here"
cargo install --quiet --locked --force --path "$here" --root "$prefix"
bin="$prefix/bin/abg"
echo "==> installed $bin ($("$bin" --version))"

data="${XDG_DATA_HOME:-$HOME/.local/share}"
config="${XDG_CONFIG_HOME:-$HOME/.config}"
install -d "$data/bash-completion/completions" "$data/zsh/site-functions" "$config/fish/completions"
"$bin" completions bash > "$data/bash-completion/completions/abg"
"$bin" completions zsh > "$data/zsh/site-functions/_abg"
"$bin" completions fish > "$config/fish/completions/abg.fish"
echo "==> completions: $data/bash-completion/completions/abg, $data/zsh/site-functions/_abg, $config/fish/completions/abg.fish"

case ":$PATH:" in
  *":$prefix/bin:"*) ;;
  *) echo "==> note: $prefix/bin is not on your PATH; add: export PATH=\"$prefix/bin:\$PATH\"" ;;
esac
echo "==> done. Start a pair: \`abg claude\` in one terminal, \`abg codex\` in another."
