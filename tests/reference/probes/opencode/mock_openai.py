#!/usr/bin/env python3
"""Mock OpenAI Chat Completions API (SSE) for driving opencode offline.

What it shows: the exact wire opencode 1.18.33 speaks to an
`@ai-sdk/openai-compatible` provider, and lets probes script turns.

Run:  python3 mock_openai.py <state dir>
  - binds 127.0.0.1 port 0, writes the port to <state dir>/mock.port
  - appends every request (path, headers, body) to <state dir>/requests.jsonl
  - POST /v1/chat/completions: requests WITHOUT `tools` are opencode's title
    requests -> canned "Mock title", never consume a scripted step; others pop
    the next step from the FIFO, else echo "mock reply N: <last user text>"
  - POST /_ctl/enqueue  body = one step or a list of steps:
      {"type":"text","text":"...","chunks":2,"delay":0}
      {"type":"tool","name":"bridge_reply","arguments":{"text":"hi"},"delay":0}
      {"type":"error","status":429,"headers":{"retry-after":"1"}}
    `delay` (s) stalls after the first (role) chunk, keeping the turn busy.
  - GET /_ctl/log -> the request log as a JSON list; POST /_ctl/reset clears it.
"""
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

STATE = sys.argv[1] if len(sys.argv) > 1 else "."
LOCK = threading.Lock()
STEPS = []
COUNTER = {"n": 0, "id": 0}


def log(entry):
    with LOCK, open(os.path.join(STATE, "requests.jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\n")


def last_user_text(body):
    for m in reversed(body.get("messages", [])):
        if m.get("role") == "user":
            c = m.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                t = [p.get("text", "") for p in c if isinstance(p, dict) and p.get("type") == "text"]
                return " ".join(t)
    return ""


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def _json(self, code, obj, headers=None):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        log({"t": time.time(), "method": "GET", "path": self.path, "headers": dict(self.headers)})
        if self.path.startswith("/_ctl/log"):
            with open(os.path.join(STATE, "requests.jsonl")) as f:
                return self._json(200, [json.loads(l) for l in f])
        if self.path.startswith("/v1/models"):
            return self._json(200, {"object": "list", "data": [{"id": "mock-model", "object": "model"}]})
        self._json(404, {"error": "no route"})

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode(errors="replace")}
        if self.path.startswith("/_ctl/enqueue"):
            with LOCK:
                STEPS.extend(body if isinstance(body, list) else [body])
            return self._json(200, {"queued": len(STEPS)})
        if self.path.startswith("/_ctl/reset"):
            open(os.path.join(STATE, "requests.jsonl"), "w").close()
            return self._json(200, {})
        title = "tools" not in body
        log({"t": time.time(), "method": "POST", "path": self.path, "headers": dict(self.headers),
             "body": body, "title_request": title})
        if not self.path.startswith("/v1/chat/completions"):
            return self._json(404, {"error": "no route"})
        if title:
            step = {"type": "text", "text": "Mock title"}
        else:
            with LOCK:
                COUNTER["n"] += 1
                step = STEPS.pop(0) if STEPS else {
                    "type": "text", "text": "mock reply %d: %s" % (COUNTER["n"], last_user_text(body))}
        if step["type"] == "error":
            st = step.get("status", 500)
            return self._json(st, {"error": {"message": "mock error %d" % st, "type": "mock"}},
                              step.get("headers"))
        with LOCK:
            COUNTER["id"] += 1
            cid = "chatcmpl-mock-%d" % COUNTER["id"]
        if not body.get("stream"):
            msg = {"role": "assistant", "content": step.get("text", "")}
            return self._json(200, {"id": cid, "object": "chat.completion", "created": int(time.time()),
                                    "model": "mock-model", "choices": [{"index": 0, "message": msg,
                                                                       "finish_reason": "stop"}],
                                    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("connection", "close")
        self.end_headers()

        def chunk(delta, finish=None, usage=None):
            c = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                 "model": "mock-model", "choices": [] if usage else [{"index": 0, "delta": delta,
                                                                     "finish_reason": finish}]}
            if usage:
                c["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(c).encode() + b"\n\n")
            self.wfile.flush()

        try:
            chunk({"role": "assistant", "content": ""})
            if step.get("delay"):
                time.sleep(step["delay"])
            if step["type"] == "tool":
                chunk({"tool_calls": [{"index": 0, "id": "call_mock_%d" % COUNTER["id"], "type": "function",
                                       "function": {"name": step["name"],
                                                    "arguments": json.dumps(step.get("arguments", {}))}}]})
                chunk({}, "tool_calls")
            else:
                text = step.get("text", "")
                k = max(1, int(step.get("chunks", 2)))
                size = max(1, -(-len(text) // k))
                for i in range(0, len(text), size):
                    chunk({"content": text[i:i + size]})
                chunk({}, "stop")
            chunk(None, usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15})
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True


def main():
    os.makedirs(STATE, exist_ok=True)
    open(os.path.join(STATE, "requests.jsonl"), "a").close()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
    srv.daemon_threads = True
    with open(os.path.join(STATE, "mock.port.tmp"), "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(os.path.join(STATE, "mock.port.tmp"), os.path.join(STATE, "mock.port"))
    srv.serve_forever()


if __name__ == "__main__":
    main()
