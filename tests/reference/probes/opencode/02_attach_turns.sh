#!/usr/bin/env bash
# What it shows: abg's delivery path. A supervisor-owned `opencode serve`,
# the human's TUI as `opencode attach URL --dir W --session SID` in tmux, and
#  (a) POST /session/{id}/prompt_async rendered in the TUI and answered;
#  (b) a second prompt_async while the first turn is busy (mock stalls 4 s):
#      the TUI's QUEUED tag, and whether it runs as its own turn (session.idle count);
#  (c) a human-typed turn seen on /event;
#  (d) the compact /event frame sequence of one turn;
#  (e) GET /session/{id}/message, ?limit=N, and id ordering;
#  (f) a client-chosen messageID sent twice (idempotent?), GET of one message
#      by id (the "was it delivered?" check), 404 for an unknown id;
#  (g) the same re-post while the first copy is still queued;
#  (h) POST /session/{id}/abort of a busy turn: events and the message error.
# Pane snapshots and the raw SSE go to $OUT.
# Run (root): tests/reference/probes/opencode/02_attach_turns.sh [OUT dir]
. "$(dirname "$0")/lib.sh"
OUT="${1:-/tmp/ocprobe-out}"; mkdir -p "$OUT"
start_mock; write_config; start_serve
SID="$(api POST /session '{"title":"abg peer"}' | jq -r .id)"
start_events
t0="$(now)"
start_tui human "OPENCODE_SERVER_PASSWORD=$PW $OC attach $OC_URL --dir $WORK --session $SID"
wait_pane human 'Mock Model' 60
say "attach --session: composer ('Mock Model' in footer) after $(elapsed "$t0")s"
sleep 1; pane human >"$OUT/02_pane_start.txt"

say "(a) prompt_async while idle"
idle0="$(count_events '.type=="session.idle"')"
t0="$(now)"
say "prompt_async -> HTTP $(api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"<peer from=\"codex\">ping one</peer>"}]}')"
wait_event '.type=="session.idle"' 30 "$idle0"
say "idle after $(elapsed "$t0")s"
wait_pane human 'mock reply 1' 10 && say "TUI shows the injected prompt and the reply"
pane human >"$OUT/02_pane_a.txt"
grep -F 'ping one' "$OUT/02_pane_a.txt" | head -2

say "(b) prompt while busy"
mock enqueue '{"type":"text","text":"slow answer A","delay":4}' >/dev/null
idle0="$(count_events '.type=="session.idle"')"
api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"busy A"}]}' >/dev/null
wait_event '.type=="session.status" and .properties.status.type=="busy"' 10 "$(count_events '.type=="session.status" and .properties.status.type=="busy"')" || true
sleep 0.5
say "second prompt while busy -> HTTP $(api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"queued B"}]}')"
sleep 1; pane human >"$OUT/02_pane_b_busy.txt"
grep -n 'QUEUED\|queued B\|busy A' "$OUT/02_pane_b_busy.txt" | head
wait_event '.type=="session.idle"' 30 "$idle0"
sleep 3
say "session.idle frames during A+B: $(( $(count_events '.type=="session.idle"') - idle0 ))"
pane human >"$OUT/02_pane_b_done.txt"
say "model request messages (last request): $(jq -c 'select(.title_request==false)|[.body.messages[]|{role,c:(.content|tostring|.[0:40])}]' "$MST/requests.jsonl" | tail -1)"

say "(c) human types in the TUI"
idle0="$(count_events '.type=="session.idle"')"
type_line human "typed by human"
wait_event '.type=="session.idle"' 30 "$idle0"
say "user part seen on /event: $(events | jq -c 'select(.type=="message.part.updated" and .properties.part.text=="typed by human")|.properties.part|{type,text,messageID}' | head -1)"

say "(e) messages"
api GET "/session/$SID/message" >"$OUT/02_messages.json"
jq -c '.[]|{id:.info.id,role:.info.role,parent:.info.parentID,finish:.info.finish,created:.info.time.created,text:([.parts[]|select(.type=="text")|.text]|join(""))}' "$OUT/02_messages.json"
ids="$(jq -r '.[].info.id' "$OUT/02_messages.json")"
[[ "$ids" == "$(sort <<<"$ids")" ]] && say "ids are in lexicographic order == list order" || say "ids NOT sorted"
say "?limit=2 -> $(api GET "/session/$SID/message?limit=2" | jq -c '[.[].info.id]')"

say "(f) client messageID twice"
MID="$(python3 -c 'import time,secrets,string;v=(int(time.time()*1000)*4096+1)&(2**48-1);a=string.digits+string.ascii_letters;print("msg_%012x"%v+"".join(secrets.choice(a) for _ in range(14)))')"
idle0="$(count_events '.type=="session.idle"')"
say "first  -> HTTP $(api_code POST "/session/$SID/prompt_async" "{\"messageID\":\"$MID\",\"parts\":[{\"type\":\"text\",\"text\":\"dup test\"}]}")"
wait_event '.type=="session.idle"' 30 "$idle0"
idle0="$(count_events '.type=="session.idle"')"
say "second -> HTTP $(api_code POST "/session/$SID/prompt_async" "{\"messageID\":\"$MID\",\"parts\":[{\"type\":\"text\",\"text\":\"dup test\"}]}") $(cat "$T/last.body")"
wait_event '.type=="session.idle"' 15 "$idle0" || true
say "message $MID: $(api GET "/session/$SID/message" | jq -c "[.[]|select(.info.id==\"$MID\")|{parts:[.parts[]|{id,text}]}]"), assistant replies to it: $(api GET "/session/$SID/message" | jq "[.[]|select(.info.parentID==\"$MID\")]|length"), model requests so far: $(jq -c 'select(.title_request==false)' "$MST/requests.jsonl" | wc -l)"

say "GET /session/{sid}/message/$MID -> HTTP $(api_code GET "/session/$SID/message/$MID") $(jq -c '{info:(.info|{id,role}),parts:(.parts|length)}' "$T/last.body")"
UNK="${MID:0:16}zzzzzzzzzzzzzz"
say "GET /session/{sid}/message/<unknown msg id> -> HTTP $(api_code GET "/session/$SID/message/$UNK") $(cat "$T/last.body")"

say "(g) client messageID re-posted while the first copy is still queued behind a busy turn"
mock enqueue '{"type":"text","text":"slow answer C","delay":4}' >/dev/null
idle0="$(count_events '.type=="session.idle"')"
api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"busy C"}]}' >/dev/null
sleep 1
MID2="$(python3 -c 'import time,secrets,string;v=(int(time.time()*1000)*4096+1)&(2**48-1);a=string.digits+string.ascii_letters;print("msg_%012x"%v+"".join(secrets.choice(a) for _ in range(14)))')"
for i in 1 2; do
    say "post $i of $MID2 -> HTTP $(api_code POST "/session/$SID/prompt_async" "{\"messageID\":\"$MID2\",\"parts\":[{\"type\":\"text\",\"text\":\"dup busy\"}]}")"
done
wait_event '.type=="session.idle"' 30 "$idle0"; sleep 2
say "message $MID2: $(api GET "/session/$SID/message" | jq -c "[.[]|select(.info.id==\"$MID2\")|{parts:[.parts[]|{id,text}]}]"), assistant replies to it: $(api GET "/session/$SID/message" | jq "[.[]|select(.info.parentID==\"$MID2\")]|length"), model requests whose last user text is 'dup busy': $(jq -c 'select(.title_request==false and (.body.messages[-1].content|tostring|test("dup busy")))' "$MST/requests.jsonl" | wc -l)"

say "(h) abort a busy turn"
mock enqueue '{"type":"text","text":"never finished","delay":8}' >/dev/null
idle0="$(count_events '.type=="session.idle"')"; e0="$(events | wc -l)"
api_code POST "/session/$SID/prompt_async" '{"parts":[{"type":"text","text":"long job"}]}' >/dev/null
sleep 1.5
t0="$(now)"; say "abort -> HTTP $(api_code POST "/session/$SID/abort") $(cat "$T/last.body")"
wait_event '.type=="session.idle"' 20 "$idle0"; say "idle $(elapsed "$t0")s after abort"
events | tail -n +"$((e0+1))" | jq -c 'select(.type=="session.status" or .type=="session.idle" or .type=="session.error" or (.type=="message.updated" and .properties.info.role=="assistant"))|{type,status:.properties.status.type,finish:.properties.info.finish,error:.properties.info.error,err:.properties.error}' | uniq
sleep 1; say "TUI after abort: $(pane human | grep -i 'interrupt\|abort' | head -2 | tr -s ' ')"

cp "$T/events.sse" "$OUT/02_events.sse"
say "event types (first turn, deltas collapsed):"
events | jq -r '.type' | uniq -c | head -60 | awk '{printf "%s×%s ", $2, $1} END{print ""}'
