#!/usr/bin/env bash
# Installs the pinned real CLIs that abg's end-to-end tests drive, outside
# the repo, idempotently, and prints where their native binaries are.
#
#   tests/e2e/setup.sh            # install (or reuse) into the cache dir
#   . "$DIR/env"                  # optional: export ABG_E2E_CODEX/ABG_E2E_CLAUDE/ABG_E2E_OPENCODE
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
# opencode-ai is pinned to the release its facts were verified on
# (tests/reference/opencode.md); npm installs several platform variants
# (plain, -baseline for CPUs without AVX2, -musl): we take the first one, in
# that order, whose --version answers.
set -euo pipefail

CODEX_VERSION=0.169.0
CLAUDE_VERSION=2.1.330
OPENCODE_VERSION=1.18.33
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

# Candidates, plain variant first: opencode-<os>-<arch>, then -baseline, -musl, ...
opencode_candidates() {
    find "$DIR/node_modules" -maxdepth 3 -path '*/opencode-*/bin/opencode' -type f 2>/dev/null |
        awk '{ print length($0) "\t" $0 }' | sort -n -k1,1 -k2 | cut -f2-
}

if [[ "$(installed_version @openai/codex)" == "$CODEX_VERSION" &&
      "$(installed_version @anthropic-ai/claude-code)" == "$CLAUDE_VERSION" &&
      "$(installed_version opencode-ai)" == "$OPENCODE_VERSION" &&
      -n "$(find_codex)" && -n "$(find_claude)" && -n "$(opencode_candidates)" ]]; then
    echo "e2e setup: pinned CLIs already installed in $DIR"
else
    echo "e2e setup: installing @openai/codex@$CODEX_VERSION, @anthropic-ai/claude-code@$CLAUDE_VERSION and opencode-ai@$OPENCODE_VERSION into $DIR"
    mkdir -p "$DIR"
    npm install --prefix "$DIR" --no-audit --no-fund --save-exact --ignore-scripts \
        "@openai/codex@$CODEX_VERSION" "@anthropic-ai/claude-code@$CLAUDE_VERSION" \
        "opencode-ai@$OPENCODE_VERSION"
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

# The first opencode variant that runs here (a -baseline or -musl build may be
# the only one this CPU or libc can execute). Scratch XDG dirs: --version
# alone must not create ~/.local/share/opencode or ~/.config/opencode.
OPENCODE_BIN=""
while IFS= read -r cand; do
    got="$(env -i PATH=/usr/bin:/bin HOME="$SCRATCH" XDG_CONFIG_HOME="$SCRATCH/config" \
        XDG_DATA_HOME="$SCRATCH/data" XDG_CACHE_HOME="$SCRATCH/cache" XDG_STATE_HOME="$SCRATCH/state" \
        OPENCODE_DISABLE_AUTOUPDATE=1 "$cand" --version 2>/dev/null || true)"
    if [[ "$got" == "$OPENCODE_VERSION" ]]; then OPENCODE_BIN="$cand"; break; fi
done < <(opencode_candidates)
[[ -n "$OPENCODE_BIN" ]] || die "no runnable opencode $OPENCODE_VERSION binary under $DIR/node_modules/opencode-* (unsupported platform?)"

printf 'ABG_E2E_CODEX=%s\nABG_E2E_CLAUDE=%s\nABG_E2E_OPENCODE=%s\n' "$CODEX_BIN" "$CLAUDE_BIN" "$OPENCODE_BIN" > "$DIR/env"
echo "ABG_E2E_CODEX=$CODEX_BIN"
echo "ABG_E2E_CLAUDE=$CLAUDE_BIN"
echo "ABG_E2E_OPENCODE=$OPENCODE_BIN"
echo "e2e setup: wrote $DIR/env"
