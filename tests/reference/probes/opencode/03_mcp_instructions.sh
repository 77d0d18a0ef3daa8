#!/usr/bin/env bash
# What it shows:
#  (1) MCP: a local stdio server from config `mcp.bridge` (mcp_bridge.py) —
#      its start (argv, cwd, parent, env incl. `environment`), the handshake
#      opencode sends, the tool name the model sees (bridge_reply), the exact
#      tools/call when the model calls it, the tool part on /event, and the
#      assistant messages of a tool turn (finish "tool-calls" then "stop").
#  (2) Instructions: which of AGENTS.md / CLAUDE.md / CONTEXT.md / config
#      `instructions` / the global $XDG_CONFIG_HOME/opencode/AGENTS.md /
#      ~/.claude/CLAUDE.md / the MCP server's `instructions` reach the model's
#      system prompt, in a git workdir; then with OPENCODE_DISABLE_CLAUDE_CODE=1.
# Run (root): tests/reference/probes/opencode/03_mcp_instructions.sh [OUT dir]
. "$(dirname "$0")/lib.sh"
OUT="${1:-/tmp/ocprobe-out}"; mkdir -p "$OUT"
start_mock; write_config '.instructions=["extra.md"]'
git -C "$WORK" init -q
echo "AGENTS-MARKER project agents" >"$WORK/AGENTS.md"
echo "CLAUDE-MARKER project claude" >"$WORK/CLAUDE.md"
echo "CONTEXT-MARKER project context" >"$WORK/CONTEXT.md"
echo "EXTRA-MARKER config instructions" >"$WORK/extra.md"
echo "GLOBAL-MARKER global agents" >"$XDG_CONFIG_HOME/opencode/AGENTS.md"
mkdir -p "$HOME/.claude"; echo "HOMECLAUDE-MARKER home claude" >"$HOME/.claude/CLAUDE.md"
start_serve; start_events
MARKERS="SUBAGENTS-MARKER AGENTS-MARKER CLAUDE-MARKER CONTEXT-MARKER EXTRA-MARKER GLOBAL-MARKER HOMECLAUDE-MARKER MCP-INSTRUCTIONS-MARKER"
markers_in_last_request() {
    local sys; sys="$(jq -c 'select(.title_request==false)|[.body.messages[]|select(.role=="system")|.content]' "$MST/requests.jsonl" | tail -1 | jq -r '.[]')"
    local m hit=""; for m in $MARKERS; do grep -qw -- "$m" <<<"$sys" && hit+="$m "; done; echo "${hit:-none}"
}
turn() { # text -> waits for idle
    local sid idle0; sid="$(api POST /session '{"title":"probe"}' | jq -r .id)"; idle0="$(count_events '.type=="session.idle"')"
    api_code POST "/session/$sid/prompt_async" "{\"parts\":[{\"type\":\"text\",\"text\":\"$1\"}]}" >/dev/null
    wait_event '.type=="session.idle"' 30 "$idle0"; LAST_SID="$sid"
}

say "(1) MCP reply tool"
mock enqueue '[{"type":"tool","name":"bridge_reply","arguments":{"text":"pong from opencode","to":"codex"}},{"type":"text","text":"done after tool"}]' >/dev/null
turn "please reply to codex"
say "mcp server start: $(head -1 "$T/mcp.log" | jq -c '.start|.env|={ABG_PEER,OPENCODE,OPENCODE_PID,HOME}')"
say "serve pid $SERVE_PID; mcp server parent pid: $(head -1 "$T/mcp.log" | jq .start.ppid)"
say "received by the MCP server:"; jq -c '.recv? // empty' "$T/mcp.log"
say "tool parts on /event:"; events | jq -c 'select(.type=="message.part.updated" and .properties.part.type=="tool")|.properties.part|{tool,callID,state:(.state|{status,input,output,title})}' | sort -u
say "assistant messages of the tool turn:"; api GET "/session/$LAST_SID/message" | jq -c '.[]|select(.info.role=="assistant")|{id:.info.id,parent:.info.parentID,finish:.info.finish,parts:[.parts[]|.type]}'
say "tool result sent back to the model: $(jq -c 'select(.title_request==false)|.body.messages[]|select(.role=="tool")' "$MST/requests.jsonl" | tail -1)"

say "(2) instructions in the system prompt"
turn "instr all"; say "all files present: $(markers_in_last_request)"
jq -r 'select(.title_request==false)|.body.messages[]|select(.role=="system")|.content' "$MST/requests.jsonl" | tail -n 40 | grep -n -B2 'Instructions from\|MARKER' | head -30
say "read tool schema: $(jq -c 'select(.title_request==false)|.body.tools[]|select(.function.name=="read")|.function.parameters' "$MST/requests.jsonl" | tail -1)"
mkdir -p "$WORK/sub"; echo "SUBAGENTS-MARKER" >"$WORK/sub/AGENTS.md"; echo "x" >"$WORK/sub/file.txt"
mock enqueue "[{\"type\":\"tool\",\"name\":\"read\",\"arguments\":{\"filePath\":\"$WORK/sub/file.txt\"}},{\"type\":\"text\",\"text\":\"read done\"}]" >/dev/null
turn "read a file in sub/"
say "after the read tool on sub/file.txt, the tool result the model got: $(jq -c 'select(.title_request==false)|.body.messages[]|select(.role=="tool")|.content' "$MST/requests.jsonl" | tail -1 | cut -c1-400)"
rm -rf "$WORK/sub"
rm "$XDG_CONFIG_HOME/opencode/AGENTS.md"; turn "instr no global"; say "without the global AGENTS.md: $(markers_in_last_request)"
rm "$WORK/AGENTS.md"; turn "instr no agents"; say "without AGENTS.md: $(markers_in_last_request)"
rm "$WORK/CLAUDE.md"; turn "instr no claude"; say "without AGENTS.md, CLAUDE.md: $(markers_in_last_request)"
echo "AGENTS-MARKER project agents" >"$WORK/AGENTS.md"; echo "CLAUDE-MARKER project claude" >"$WORK/CLAUDE.md"
kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
export OPENCODE_DISABLE_CLAUDE_CODE=1; start_serve; start_events
rm "$WORK/AGENTS.md"; turn "instr disabled claude"; say "OPENCODE_DISABLE_CLAUDE_CODE=1, no AGENTS.md: $(markers_in_last_request)"
