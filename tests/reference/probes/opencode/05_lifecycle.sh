#!/usr/bin/env bash
# What it shows: process lifecycle facts abg's supervisor needs.
#  (1) `serve --port 0` picks 4096 first; a second `serve --port 0` then?
#  (2) launch-to-composer time: `attach --session` to a running serve vs the
#      bare TUI (`opencode`, which runs its own server), N=3 each;
#  (3) the process tree of serve (MCP children, anything else) after a turn;
#  (4) the human's TUI exits (kill of its PID) -> serve keeps running;
#  (5) serve dies under an attached TUI -> what the TUI does; restarting serve
#      on the same port -> does the TUI recover; POST /tui/select-session
#      (sent once the TUI shows its home screen again) -> back on the session?
#  (6) SIGTERM and SIGKILL of serve: exit code, time, which processes remain
#      (the MCP server child is the orphan candidate).
# Run (root): tests/reference/probes/opencode/05_lifecycle.sh [OUT dir] [N]
. "$(dirname "$0")/lib.sh"
OUT="${1:-/tmp/ocprobe-out}"; mkdir -p "$OUT"; N="${2:-3}"
start_mock; write_config
tree() { ps -o pid,ppid,pgid,stat,etimes,args --ppid "$1" 2>/dev/null | cut -c1-150 || true; }
descendants() { # pid -> all descendant pids
    local c; for c in $(ps -o pid= --ppid "$1" || true); do echo "$c"; descendants "$c"; done
}
alive() { # live (non-zombie) pids among the args
    local p st out=""; for p in "$@"; do
        st="$(ps -o stat= -p "$p" 2>/dev/null || true)"; [[ -n "$st" && "$st" != Z* ]] && out+="$p($(ps -o comm= -p "$p")) "
    done; echo "${out:-none}"; }

say "(1) port 0"
start_serve; say "first serve --port 0 -> $OC_URL (healthy ${SERVE_HEALTHY_S}s)"; S1=$SERVE_PID; U1=$OC_URL
(cd "$WORK" && exec env OPENCODE_SERVER_PASSWORD="$PW" "$OC" serve --port 0 --hostname 127.0.0.1 >"$T/serve2.out" 2>&1) & S2=$!; PIDS+=("$S2")
for _ in $(seq 200); do grep -q 'listening\|rror' "$T/serve2.out" 2>/dev/null && break; sleep 0.05; done
say "second serve --port 0 -> $(head -3 "$T/serve2.out")"
kill "$S2"; wait "$S2" 2>/dev/null || true
OC_URL=$U1; SERVE_PID=$S1

say "(2) launch to composer ('Mock Model' on screen)"
SID="$(api POST /session '{"title":"abg peer"}' | jq -r .id)"
for i in $(seq "$N"); do
    t0="$(now)"; start_tui "a$i" "OPENCODE_SERVER_PASSWORD=$PW $OC attach $OC_URL --dir $WORK --session $SID"
    wait_pane "a$i" 'Mock Model' 60; a="$(elapsed "$t0")"; tm kill-session -t "a$i"; sleep 1
    t0="$(now)"; start_tui "b$i" "$OC $WORK"
    wait_pane "b$i" 'Mock Model' 60; b="$(elapsed "$t0")"
    [[ $i == 1 ]] && pane "b$i" >"$OUT/05_pane_bare.txt"
    tm kill-session -t "b$i"; sleep 1
    say "run $i: attach --session ${a}s, bare TUI ${b}s"
done
sleep 2; say "leftover opencode processes besides serve: $(pgrep -f "$OC" | grep -vx "$SERVE_PID" | tr '\n' ' ' || true)"

say "(3) serve's process tree after a turn (TUI attached)"
start_tui human "OPENCODE_SERVER_PASSWORD=$PW $OC attach $OC_URL --dir $WORK --session $SID"
wait_pane human 'Mock Model' 60
start_events
api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"hi"}]}' >/dev/null
wait_event '.type=="session.idle"' 30
tree "$SERVE_PID"
TUI_PID="$(tm list-panes -t human -F '#{pane_pid}')"
say "TUI pane shell $TUI_PID, its tree:"; tree "$TUI_PID"; for c in $(descendants "$TUI_PID"); do tree "$c"; done

say "(4) kill the TUI process (SIGTERM) -> serve?"
TUI_OC="$(ps -o pid= --ppid "$TUI_PID" | head -1 | tr -d ' ')"
kill "$TUI_OC"; sleep 2
say "TUI pane: $(pane human | grep -v '^\s*$' | tail -2 | tr -s ' ')"
say "serve alive: $(alive "$SERVE_PID"), health: $(curl -s -m 2 -u "opencode:$PW" "$OC_URL/global/health"), sessions: $(api GET /session | jq length)"
tm kill-session -t human

say "(5) serve killed under an attached TUI, then restarted on the same port"
start_tui human "OPENCODE_SERVER_PASSWORD=$PW $OC attach $OC_URL --dir $WORK --session $SID"
wait_pane human 'Mock Model' 60
MCP_PIDS="$(jq -r '.start.pid? // empty' "$T/mcp.log" | tr '\n' ' ')"
DESC="$(descendants "$SERVE_PID" | tr '\n' ' ')"
t0="$(now)"; kill -TERM "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null && rc=0 || rc=$?
say "SIGTERM serve: rc=$rc after $(elapsed "$t0")s; its former descendants [$DESC] alive: $(alive $DESC); MCP server pids [$MCP_PIDS] alive: $(alive $MCP_PIDS)"
sleep 1; say "1 s later alive: $(alive $DESC); MCP servers that saw stdin EOF: $(jq -r '.eof? // empty' "$T/mcp.log" | tr '\n' ' ')"
sleep 2; pane human >"$OUT/05_pane_server_gone.txt"
say "TUI after serve died: $(grep -v '^\s*$' "$OUT/05_pane_server_gone.txt" | grep -i 'error\|EXITED\|connect\|fail' | head -3 | tr -s ' ')"
(cd "$WORK" && exec env OPENCODE_SERVER_PASSWORD="$PW" "$OC" serve --port "$OC_PORT" --hostname 127.0.0.1 >"$T/serve3.out" 2>&1) & SERVE_PID=$!; PIDS+=("$SERVE_PID")
for _ in $(seq 200); do curl -sf -m 1 -u "opencode:$PW" "$OC_URL/global/health" >/dev/null 2>&1 && break; sleep 0.1; done
start_events
api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"after restart"}]}' >/dev/null
say "restarted serve healthy: $(curl -s -m 2 -u "opencode:$PW" "$OC_URL/global/health")"
wait_event '.type=="session.idle"' 30 && say "post-restart turn ran" || true
sleep 2; pane human >"$OUT/05_pane_after_restart.txt"
say "TUI shows the post-restart turn? $(pane human | grep -c 'mock reply.*after restart')  (EXITED lines: $(pane human | grep -c EXITED))"
say "TUI back on its home screen ('Ask anything')? $(wait_pane human 'Ask anything' 30 2>/dev/null && echo yes || echo no)"
say "POST /tui/select-session -> HTTP $(api_code POST /tui/select-session "{\"sessionID\":\"$SID\"}") $(cat "$T/last.body")"
say "TUI shows the post-restart turn after select-session? $(wait_pane human 'after restart' 15 2>/dev/null && echo yes || echo no)"


say "(6) SIGKILL serve"
sleep 1
DESC="$(descendants "$SERVE_PID" | tr '\n' ' ')"
say "serve descendants before: [$DESC]"; for d in $DESC; do ps -o pid=,ppid=,args= -p "$d" | cut -c1-120; done
kill -KILL "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true; sleep 1
say "after SIGKILL, former descendants alive: $(alive $DESC)"
for d in $DESC; do kill -0 "$d" 2>/dev/null && ps -o pid=,ppid=,stat=,args= -p "$d" | cut -c1-120; done
say "MCP servers that saw stdin EOF: $(jq -r '.eof? // empty' "$T/mcp.log" | tr '\n' ' ')"
