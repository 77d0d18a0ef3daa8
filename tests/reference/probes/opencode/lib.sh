# shellcheck shell=bash
# Shared helpers for the opencode probes (sourced, not run).
#
# What it does: re-execs the calling probe inside a private network namespace
# (`unshare -n`, loopback up), makes a temp HOME + XDG dirs + workdir, writes an
# opencode.json pointing at mock_openai.py, and offers start/stop helpers for
# the mock, `opencode serve`, the /event recorder and a tmux-driven TUI.
#
# Needs: root (unshare), python3, curl, jq, tmux, and the pinned binary in
# $ABG_E2E_OPENCODE (default: read from ~/.cache/abg-e2e/cli/env, written by
# tests/e2e/setup.sh). KEEP=1 keeps the temp dir for inspection.
set -euo pipefail

PROBE_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [[ -z "${ABG_E2E_OPENCODE:-}" && -f "${ABG_E2E_CLI_DIR:-$HOME/.cache/abg-e2e/cli}/env" ]]; then
    # shellcheck disable=SC1090,SC1091
    set -a; . "${ABG_E2E_CLI_DIR:-$HOME/.cache/abg-e2e/cli}/env"; set +a
fi
OC="${ABG_E2E_OPENCODE:?run tests/e2e/setup.sh first}"

# 1. Private network namespace: only 127.0.0.1 exists in here.
if [[ -z "${ABG_PROBE_NETNS:-}" ]]; then
    export ABG_PROBE_NETNS=1 ABG_E2E_OPENCODE="$OC"
    exec unshare -n -- bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi

# 2. Hermetic dirs and env.
T="$(mktemp -d /tmp/ocprobe.XXXXXX)"
export HOME="$T/home" XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/data" \
       XDG_CACHE_HOME="$T/cache" XDG_STATE_HOME="$T/state" TERM=xterm-256color \
       OPENCODE_DISABLE_AUTOUPDATE=1 OPENCODE_DISABLE_MODELS_FETCH=1 \
       OPENCODE_DISABLE_LSP_DOWNLOAD=1 OPENCODE_DISABLE_SHARE=1
WORK="$T/work"; MST="$T/mock"
mkdir -p "$HOME" "$XDG_CONFIG_HOME/opencode" "$XDG_DATA_HOME" "$XDG_CACHE_HOME" "$XDG_STATE_HOME" "$WORK" "$MST"
PW="pw-$RANDOM$RANDOM"
PIDS=()
TMUX_SOCK="$T/tmux.sock"

cleanup() {
    tmux -S "$TMUX_SOCK" kill-server 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [[ -n "${KEEP:-}" ]]; then echo "kept $T" >&2; else rm -rf "$T"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.2f", b-a}'; }
say() { printf '== %s\n' "$*"; }

start_mock() {
    python3 "$PROBE_DIR/mock_openai.py" "$MST" & PIDS+=($!)
    for _ in $(seq 100); do [[ -f "$MST/mock.port" ]] && break; sleep 0.05; done
    MOCK_PORT="$(cat "$MST/mock.port")"
}
mock() { curl -sS -m 5 -XPOST -Hcontent-type:application/json "127.0.0.1:$MOCK_PORT/_ctl/$1" -d "${2:-{\}}"; }
mock_log() { cat "$MST/requests.jsonl"; }

# write_config [jq filter applied to the base config]
write_config() {
    jq -n --arg url "http://127.0.0.1:$MOCK_PORT/v1" --arg mcp "$PROBE_DIR/mcp_bridge.py" --arg log "$T/mcp.log" '
      {"$schema":"https://opencode.ai/config.json",
       model:"mock/mock-model", small_model:"mock/mock-model", autoupdate:false, share:"disabled",
       provider:{mock:{npm:"@ai-sdk/openai-compatible", name:"Mock",
                 options:{baseURL:$url, apiKey:"dummy"}, models:{"mock-model":{name:"Mock Model"}}}},
       mcp:{bridge:{type:"local", command:["python3",$mcp,$log], environment:{ABG_PEER:"opencode"}, enabled:true}}}
      | '"${1:-.}" > "$XDG_CONFIG_HOME/opencode/opencode.json"
}

# start_serve [extra args]  -> sets OC_PORT, OC_URL, SERVE_PID; stdout/err in $T/serve.{out,err}
start_serve() {
    local t0; t0="$(now)"
    (cd "$WORK" && exec env OPENCODE_SERVER_PASSWORD="$PW" "$OC" serve --port 0 --hostname 127.0.0.1 "$@" \
        >"$T/serve.out" 2>"$T/serve.err") & SERVE_PID=$!; PIDS+=("$SERVE_PID")
    for _ in $(seq 300); do grep -q 'listening on' "$T/serve.out" 2>/dev/null && break; sleep 0.05; done
    OC_URL="$(grep -o 'http://127.0.0.1:[0-9]*' "$T/serve.out" | head -1)"; OC_PORT="${OC_URL##*:}"
    SERVE_LISTEN_S="$(elapsed "$t0")"
    for _ in $(seq 200); do
        curl -sf -m 1 -u "opencode:$PW" "$OC_URL/global/health" >/dev/null 2>&1 && break; sleep 0.1
    done
    SERVE_HEALTHY_S="$(elapsed "$t0")"
}
api() { # METHOD PATH [json]
    if [[ $# -ge 3 ]]; then
        curl -sS -m 10 -u "opencode:$PW" -X "$1" -Hcontent-type:application/json "$OC_URL$2" -d "$3"
    else curl -sS -m 10 -u "opencode:$PW" -X "$1" "$OC_URL$2"; fi
}
api_code() { # METHOD PATH [json] -> prints the HTTP status
    curl -s -o "$T/last.body" -w '%{http_code}' -m 10 -u "opencode:$PW" -X "$1" -Hcontent-type:application/json "$OC_URL$2" ${3:+-d "$3"}
}
start_events() { # records /event SSE into $T/events.sse
    curl -sSN -u "opencode:$PW" "$OC_URL/event" >"$T/events.sse" 2>/dev/null & PIDS+=($!)
    sleep 0.3
}
events() { sed -n 's/^data: //p' "$T/events.sse"; }
wait_event() { # jq-select-expr [timeout_s] [count already seen]: waits for one more match
    local dl=$(( $(date +%s) + ${2:-20} ))
    while (( $(date +%s) < dl )); do
        [[ "$(count_events "$1")" -gt "${3:-0}" ]] && return 0; sleep 0.1
    done
    echo "timeout waiting for event $1" >&2; return 1
}
count_events() { events | jq -c "select($1)" 2>/dev/null | wc -l || true; }

tm() { tmux -S "$TMUX_SOCK" "$@"; }
start_tui() { # name command...
    local name="$1"; shift
    # A retry: killing the last session makes the tmux server exit, and a
    # new-session racing with that exit fails with "server exited unexpectedly".
    tm new-session -d -s "$name" -x 200 -y 50 -c "$WORK" "$*; echo EXITED rc=\$?; sleep 300" 2>/dev/null ||
        { sleep 0.5; tm new-session -d -s "$name" -x 200 -y 50 -c "$WORK" "$*; echo EXITED rc=\$?; sleep 300"; }
}
pane() { tm capture-pane -p -t "$1"; }
wait_pane() { # name substring [timeout]
    local dl=$(( $(date +%s) + ${3:-30} ))
    while (( $(date +%s) < dl )); do pane "$1" | grep -qF -- "$2" && return 0; sleep 0.1; done
    echo "timeout waiting for '$2' in pane $1; screen:" >&2; pane "$1" >&2; return 1
}
type_line() { tm send-keys -t "$1" -l "$2"; sleep 0.4; tm send-keys -t "$1" Enter; }
