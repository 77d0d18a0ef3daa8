#!/usr/bin/env bash
# What it shows: `opencode serve` under a per-run password — the listening
# line, time to healthy, Basic-auth behaviour (401s), session create/list, the
# /doc OpenAPI size and version, and one headless prompt_async turn read back
# via GET /session/{id}/message. Writes the OpenAPI doc to $OUT/openapi.json.
# Run (root): tests/reference/probes/opencode/01_serve_api.sh [OUT dir]
. "$(dirname "$0")/lib.sh"
OUT="${1:-/tmp/ocprobe-out}"; mkdir -p "$OUT"
start_mock; write_config
start_serve
say "serve stdout: $(cat "$T/serve.out")"
say "listening after ${SERVE_LISTEN_S}s, healthy after ${SERVE_HEALTHY_S}s"
say "health: $(api GET /global/health)"
say "no auth: $(curl -s -o /dev/null -w '%{http_code}' -m 3 "$OC_URL/global/health")"
say "wrong pw: $(curl -s -o /dev/null -w '%{http_code}' -m 3 -u opencode:nope "$OC_URL/global/health")"
say "bearer: $(curl -s -o /dev/null -w '%{http_code}' -m 3 -H "Authorization: Bearer $PW" "$OC_URL/global/health")"
say "with Origin: $(curl -s -o /dev/null -w '%{http_code}' -m 3 -u "opencode:$PW" -H 'Origin: http://evil.example' "$OC_URL/global/health")"
api GET /doc >"$OUT/openapi.json"
say "/doc: $(wc -c <"$OUT/openapi.json") bytes, info=$(jq -c .info "$OUT/openapi.json"), $(jq '.paths|length' "$OUT/openapi.json") paths"
S="$(api POST /session '{"title":"abg peer"}')"
say "POST /session -> $S"
SID="$(jq -r .id <<<"$S")"
say "GET /session -> $(api GET /session | jq -c '[.[]|{id,title,directory}]')"
start_events
t0="$(now)"
say "prompt_async -> HTTP $(api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"hello headless"}]}')"
wait_event '.type=="session.idle"' 30
say "turn (prompt_async -> session.idle) ${t0:+$(elapsed "$t0")}s"
say "GET /session/$SID/message:"
api GET "/session/$SID/message" | jq -c '.[]|{info:(.info|{id,role,parentID,finish,time,modelID,providerID,mode,agent}),parts:[.parts[]|{id,type,text}]}'
say "session.status now: $(api GET /session/status)"
say "mock requests: $(jq -c '{path,title_request,tools:(.body.tools|length? // 0),msgs:[.body.messages[]?|.role]}' "$MST/requests.jsonl" | tr '\n' ' ')"
say "user-agent: $(jq -r 'select(.method=="POST")|.headers["User-Agent"] // .headers["user-agent"]' "$MST/requests.jsonl" | sort -u)"
jq -c 'select(.title_request==false)|.body|del(.messages,.tools)' "$MST/requests.jsonl" | head -1 | sed 's/^/== body (minus messages,tools): /'
jq -r 'select(.title_request==false)|.body.tools[].function.name' "$MST/requests.jsonl" | sort -u | tr '\n' ' ' | sed 's/^/== tools: /'; echo
cp "$T/events.sse" "$OUT/01_events.sse"
say "serve stderr: $(head -c 600 "$T/serve.err")"
