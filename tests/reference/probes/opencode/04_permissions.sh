#!/usr/bin/env bash
# What it shows: opencode's permission round trip through the server API
# (useful for abg's approval relay). Config comes from OPENCODE_CONFIG_CONTENT
# (inline JSON, merged over the config file) with permission.bash = "ask".
# A scripted bash tool call then produces a `permission.asked` event (exact
# shape printed), GET /permission lists it, the attached TUI shows its dialog,
# POST /permission/{id}/reply {"reply":"once"} runs the command; a second call
# answered {"reply":"reject","message":…} shows what the model is told.
# Also: the `permission.replied` event and the session status while waiting.
# Run (root): tests/reference/probes/opencode/04_permissions.sh [OUT dir]
. "$(dirname "$0")/lib.sh"
OUT="${1:-/tmp/ocprobe-out}"; mkdir -p "$OUT"
start_mock; write_config
export OPENCODE_CONFIG_CONTENT='{"permission":{"bash":"ask","edit":"ask"}}'
start_serve; start_events
say "GET /config permission (file + OPENCODE_CONFIG_CONTENT merged): $(api GET /config | jq -c '{permission, model, mcp:(.mcp|keys)}')"
SID="$(api POST /session '{"title":"abg peer"}' | jq -r .id)"
start_tui human "OPENCODE_SERVER_PASSWORD=$PW $OC attach $OC_URL --dir $WORK --session $SID"
wait_pane human 'Mock Model' 60
say "bash tool schema: $(api GET /experimental/tool?provider=mock\&model=mock-model 2>/dev/null | jq -c '.[]?|select(.id=="bash")|.parameters.required' 2>/dev/null)"

mock enqueue '[{"type":"tool","name":"bash","arguments":{"command":"echo approved > perm.txt","description":"Write perm.txt"}},{"type":"text","text":"after approval"}]' >/dev/null
idle0="$(count_events '.type=="session.idle"')"
api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"run a command"}]}' >/dev/null
wait_event '.type=="permission.asked"' 30
say "permission.asked frame:"; events | jq -c 'select(.type=="permission.asked")' | tail -1
PID_="$(events | jq -r 'select(.type=="permission.asked")|.properties.id' | tail -1)"
say "GET /permission: $(api GET /permission)"
say "GET /session/status while waiting: $(api GET /session/status)"
sleep 1; pane human >"$OUT/04_pane_asked.txt"; grep -n -i 'permission\|allow\|reject\|echo approved' "$OUT/04_pane_asked.txt" | head -8
say "reply once -> HTTP $(api_code POST "/permission/$PID_/reply" '{"reply":"once"}') $(cat "$T/last.body")"
wait_event '.type=="session.idle"' 30 "$idle0"
say "permission.replied frame: $(events | jq -c 'select(.type=="permission.replied")' | tail -1)"
say "perm.txt: $(cat "$WORK/perm.txt" 2>&1)"
say "TUI dialog still shown after the API reply? $(pane human | grep -c 'Permission required')"

say "GET /permission after: $(api GET /permission)"

mock enqueue '[{"type":"tool","name":"bash","arguments":{"command":"echo rejected > rej.txt","description":"Write rej.txt"}},{"type":"text","text":"after reject"}]' >/dev/null
idle0="$(count_events '.type=="session.idle"')"; n0="$(count_events '.type=="permission.asked"')"
api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"run another"}]}' >/dev/null
wait_event '.type=="permission.asked"' 30 "$n0"
PID_="$(events | jq -r 'select(.type=="permission.asked")|.properties.id' | tail -1)"
say "reply reject -> HTTP $(api_code POST "/permission/$PID_/reply" '{"reply":"reject","message":"abg: the human said no"}') $(cat "$T/last.body")"
wait_event '.type=="session.idle"' 30 "$idle0"
say "rej.txt exists? $([[ -e "$WORK/rej.txt" ]] && echo yes || echo no)"
say "tool part after reject: $(events | jq -c 'select(.type=="message.part.updated" and .properties.part.type=="tool" and .properties.part.state.status=="error")|.properties.part.state|{status,error}' | tail -1)"
say "what the model got next: $(jq -c 'select(.title_request==false)|.body.messages[-2:]' "$MST/requests.jsonl" | tail -1 | cut -c1-600)"
say "model requests after the reject: $(jq -c 'select(.title_request==false)' "$MST/requests.jsonl" | wc -l) total; assistant messages: $(api GET "/session/$SID/message" | jq -c '[.[]|select(.info.role=="assistant")|.info.finish // .info.error.name]')"
say "reply to an unknown id -> HTTP $(api_code POST "/permission/per_nope/reply" '{"reply":"once"}') $(cat "$T/last.body")"
