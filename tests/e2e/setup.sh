#!/usr/bin/env bash
# Installs the pinned real CLIs that abg's end-to-end tests drive, outside
# the repo, idempotently, and prints where their native binaries are.
#
#   tests/e2e/setup.sh            # install (or reuse) into the cache dir
#   . "$DIR/env"                  # optional: export ABG_E2E_CODEX/ABG_E2E_CLAUDE
#
# Cache dir: ${ABG_E2E_CLI_DIR:-$HOME/.cache/abg-e2e/cli} (the tests look there
# by default, so sourcing the env file is not required).
#
# Needs: node + npm (the install), tmux (the TUI driver). Optional: running
# as root, so the tests can put the CLIs in a private network namespace (they
# do it in-process with unshare(2); no iproute2 needed). python3 runs the
# tiny stdio<->TCP relay of the Claude channel test.
#
# Versions are pinned exactly: claude-code 2.1.330 declares node >= 22, and on
# node 20 an unpinned install silently picks an old release. The EBADENGINE
# warning is harmless: only the native binary is used. --ignore-scripts skips
# postinstall, so we call the platform packages' native binaries directly.
set -euo pipefail

CODEX_VERSION=0.169.0
CLAUDE_VERSION=2.1.330
DIR="${ABG_E2E_CLI_DIR:-$HOME/.cache/abg-e2e/cli}"

die() { echo "e2e setup: $*" >&2; exit 1; }

command -v npm >/dev/null || die "npm is required (install nodejs + npm)"
command -v node >/dev/null || die "node is required"
command -v tmux >/dev/null || echo "e2e setup: warning: tmux is not installed; the e2e tests need it" >&2
command -v python3 >/dev/null || echo "e2e setup: warning: python3 is not installed; the Claude channel test needs it" >&2

installed_version() { # <package name>
    local pj="$DIR/node_modules/$1/package.json"
    [[ -f "$pj" ]] || return 0
    node -p "require(process.argv[1]).version" "$pj" 2>/dev/null || true
}

find_codex() {
    find "$DIR/node_modules/@openai" -path '*/codex-*/vendor/*/bin/codex' -type f 2>/dev/null | sort | head -n 1
}

find_claude() {
    find "$DIR/node_modules/@anthropic-ai" -path '*/claude-code-*/claude' -type f 2>/dev/null | sort | head -n 1
}

if [[ "$(installed_version @openai/codex)" == "$CODEX_VERSION" &&
      "$(installed_version @anthropic-ai/claude-code)" == "$CLAUDE_VERSION" &&
      -n "$(find_codex)" && -n "$(find_claude)" ]]; then
    echo "e2e setup: pinned CLIs already installed in $DIR"
else
    echo "e2e setup: installing @openai/codex@$CODEX_VERSION and @anthropic-ai/claude-code@$CLAUDE_VERSION into $DIR"
    mkdir -p "$DIR"
    npm install --prefix "$DIR" --no-audit --no-fund --save-exact --ignore-scripts \
        "@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION"
fi

CODEX_BIN="$(find_codex)"
CLAUDE_BIN="$(find_claude)"
[[ -n "$CODEX_BIN" ]] || die "no native codex binary under $DIR/node_modules/@openai (unsupported platform?)"
[[ -n "$CLAUDE_BIN" ]] || die "no native claude binary under $DIR/node_modules/@anthropic-ai (unsupported platform?)"

# --version in a throwaway home, so not even this touches ~/.codex or ~/.claude.
SCRATCH="$(mktemp -d)"
trap 'rm -rf "$SCRATCH"' EXIT
check_version() { # <binary> <expected output>
    local got
    got="$(env -i PATH=/usr/bin:/bin HOME="$SCRATCH" CODEX_HOME="$SCRATCH" CLAUDE_CONFIG_DIR="$SCRATCH" \
        DISABLE_AUTOUPDATER=1 DISABLE_TELEMETRY=1 "$1" --version 2>/dev/null || true)"
    [[ "$got" == "$2" ]] || die "$1 --version printed '$got', expected '$2'"
}
check_version "$CODEX_BIN" "codex-cli $CODEX_VERSION"
check_version "$CLAUDE_BIN" "$CLAUDE_VERSION (Claude Code)"

printf 'ABG_E2E_CODEX=%s\nABG_E2E_CLAUDE=%s\n' "$CODEX_BIN" "$CLAUDE_BIN" > "$DIR/env"
echo "ABG_E2E_CODEX=$CODEX_BIN"
echo "ABG_E2E_CLAUDE=$CLAUDE_BIN"
echo "e2e setup: wrote $DIR/env"
