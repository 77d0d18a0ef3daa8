"""Shared helpers for the approval probes (stdlib only, Python >= 3.9).

What it holds:
- `WsClient`: a minimal WebSocket client (RFC 6455 text frames, masked,
  answers pings) that logs every frame it receives with a timestamp;
- `WsSpy`: a byte-transparent TCP relay between a real client (the Codex
  TUI) and the app-server that decodes the text frames in both directions
  and logs them (it strips `Sec-WebSocket-Extensions` from the upgrade so no
  frame is compressed);
- `MockOpenAI` / `MockAnthropic`: scripted model APIs (SSE) whose answer is
  chosen by a callback that sees the request body;
- `Tmux`: a private tmux server to drive a TUI (type with a settle delay,
  poll the screen with a deadline);
- `Log`: a JSONL event log plus echo to stderr.

Not a test harness: the probes print and record what they see so a person
can read it. Run every probe inside a fresh network namespace, see
`run-in-netns.sh`.
"""

import base64
import http.server
import json
import os
import queue
import shlex
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time


def now_ms():
    return int(time.time() * 1000)


class Log:
    """Append-only JSONL log; `ev` also echoes a short line to stderr."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.t0 = time.time()
        open(path, "w").close()

    def ev(self, kind, **data):
        now = time.time()
        rec = {"t": round(now - self.t0, 3), "at": round(now, 3), "kind": kind, **data}
        line = json.dumps(rec, ensure_ascii=False)
        with self.lock:
            with open(self.path, "a") as f:
                f.write(line + "\n")
        short = line if len(line) < 400 else line[:400] + "…"
        print(short, file=sys.stderr, flush=True)
        return rec


# ------------------------------------------------------------ websocket

def _ws_frame(payload: bytes, opcode=1):
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


def _read_exact(sock, n, buf):
    while len(buf) < n:
        chunk = sock.recv(65536)
        if not chunk:
            raise EOFError("socket closed")
        buf += chunk
    return buf[:n], buf[n:]


def parse_frame(buf):
    """(fin, opcode, payload, rest) or None when `buf` holds no whole frame."""
    if len(buf) < 2:
        return None
    b0, b1 = buf[0], buf[1]
    n = b1 & 0x7F
    pos = 2
    if n == 126:
        if len(buf) < 4:
            return None
        n = struct.unpack(">H", buf[2:4])[0]
        pos = 4
    elif n == 127:
        if len(buf) < 10:
            return None
        n = struct.unpack(">Q", buf[2:10])[0]
        pos = 10
    mask = None
    if b1 & 0x80:
        if len(buf) < pos + 4:
            return None
        mask = buf[pos:pos + 4]
        pos += 4
    if len(buf) < pos + n:
        return None
    payload = buf[pos:pos + n]
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return (b0 & 0x80 != 0, b0 & 0x0F, payload, buf[pos + n:])


class WsClient:
    """One JSON-RPC connection to the app-server over ws://."""

    def __init__(self, name, port, token, log):
        self.name = name
        self.log = log
        self.inbox = queue.Queue()
        self.all = []
        self.next_id = 1000
        self.closed = False
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n")
        self.sock.sendall(req.encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise EOFError("closed during upgrade")
            buf += chunk
        head, _, self.buf = buf.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode()
        if " 101 " not in status:
            raise RuntimeError(f"upgrade refused: {status}")
        self.sock.settimeout(None)
        self.wlock = threading.Lock()
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        buf = self.buf
        try:
            while True:
                f = parse_frame(buf)
                while f is None:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise EOFError
                    buf += chunk
                    f = parse_frame(buf)
                fin, op, payload, buf = f
                if op == 9:
                    self._send_raw(payload, 10)
                elif op == 8:
                    break
                elif op in (1, 0):
                    msg = json.loads(payload.decode())
                    self.all.append((time.time(), msg))
                    self.log.ev("recv", client=self.name, msg=msg)
                    self.inbox.put(msg)
        except (EOFError, OSError):
            pass
        self.closed = True
        self.log.ev("closed", client=self.name)

    def _send_raw(self, payload, opcode=1):
        with self.wlock:
            self.sock.sendall(_ws_frame(payload, opcode))

    def send(self, msg):
        self.log.ev("send", client=self.name, msg=msg)
        self._send_raw(json.dumps(msg).encode())

    def request(self, method, params, timeout=15):
        self.next_id += 1
        rid = self.next_id
        self.send({"id": rid, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == rid and ("result" in m or "error" in m),
                         timeout, f"reply to {method}")

    def wait(self, pred, timeout=15, what="message"):
        """First message (received from now on, or already seen and not yet
        consumed) matching `pred`."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                m = self.inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            if pred(m):
                return m
        raise TimeoutError(f"{self.name}: no {what} within {timeout}s")

    def seen(self, pred, since=0.0):
        return [m for (t, m) in self.all if t >= since and pred(m)]

    def drain(self):
        while not self.inbox.empty():
            self.inbox.get_nowait()

    def close(self):
        try:
            self._send_raw(b"", 8)
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()

    def init(self, client_name="abg-probe"):
        r = self.request("initialize", {
            "clientInfo": {"name": client_name, "title": "probe", "version": "0.0.1"},
            "capabilities": {"experimentalApi": True}})
        self.send({"method": "initialized"})
        return r


class WsSpy:
    """TCP relay listen_port -> 127.0.0.1:target_port that logs decoded text
    frames in both directions (label `who`)."""

    def __init__(self, who, target_port, log):
        self.who, self.target, self.log = who, target_port, log
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(4)
        self.port = self.srv.getsockname()[1]
        self.sent = []  # messages the spied client sent
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            c, _ = self.srv.accept()
            threading.Thread(target=self._conn, args=(c,), daemon=True).start()

    def _conn(self, c):
        u = socket.create_connection(("127.0.0.1", self.target))
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += c.recv(4096)
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = [ln for ln in head.split(b"\r\n")
                 if not ln.lower().startswith(b"sec-websocket-extensions")]
        u.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + rest)
        threading.Thread(target=self._pump, args=(c, u, "client->server", True),
                         daemon=True).start()
        self._pump(u, c, "server->client", False)

    def _pump(self, src, dst, direction, upgrade_done):
        buf = b""
        header_passed = upgrade_done
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                dst.sendall(chunk)
                buf += chunk
                if not header_passed:
                    if b"\r\n\r\n" not in buf:
                        continue
                    _, _, buf = buf.partition(b"\r\n\r\n")
                    header_passed = True
                while True:
                    f = parse_frame(buf)
                    if f is None:
                        break
                    _, op, payload, buf = f
                    if op == 1:
                        try:
                            msg = json.loads(payload.decode())
                        except ValueError:
                            msg = payload.decode(errors="replace")
                        if direction == "client->server":
                            self.sent.append((time.time(), msg))
                        self.log.ev("spy", who=self.who, dir=direction, msg=msg)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ------------------------------------------------------------ mock model APIs

def sse(frames):
    out = []
    for ev, data in frames:
        out.append(f"event: {ev}\ndata: {json.dumps(data)}\n\n")
    return "".join(out).encode()


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class _MockBase:
    def __init__(self, log, label):
        self.log, self.label = log, label
        self.requests = []
        mock = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_HEAD(self):
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                status, ctype, data = mock.answer(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

        self.srv = _Server(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


class MockOpenAI(_MockBase):
    """`POST /v1/responses`. `decide(body)` returns ("text", str) or
    ("call", name, arguments_dict). Title requests are answered apart."""

    def __init__(self, log, decide):
        super().__init__(log, "openai")
        self.decide = decide
        self.n = 0

    def answer(self, path, body):
        self.n += 1
        n = self.n
        fmt = body.get("text", {}).get("format", {})
        props = fmt.get("schema", {}).get("properties", {}) if fmt.get("type") == "json_schema" else {}
        if list(props) == ["title"]:
            step = ("text", '{"title":"Mock title"}')
        else:
            self.requests.append(body)
            step = self.decide(body)
        self.log.ev("model", api="openai", n=n, step=step,
                    last_input=(body.get("input") or [None])[-1])
        rid, mid = f"resp_{n}", f"msg_{n}"
        usage = {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 15}
        frames = [("response.created", {"type": "response.created", "response": {"id": rid}})]
        if step[0] == "text":
            text = step[1]
            done = {"type": "message", "role": "assistant", "id": mid, "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}]}
            frames += [
                ("response.output_item.added", {"type": "response.output_item.added", "output_index": 0,
                 "item": {"type": "message", "role": "assistant", "id": mid,
                          "status": "in_progress", "content": []}}),
                ("response.output_text.delta", {"type": "response.output_text.delta", "item_id": mid,
                 "output_index": 0, "content_index": 0, "delta": text}),
                ("response.output_item.done", {"type": "response.output_item.done",
                 "output_index": 0, "item": done}),
            ]
        else:
            _, name, args, call_id = step
            item = {"type": "function_call", "id": f"fc_{n}", "call_id": call_id,
                    "name": name, "arguments": json.dumps(args)}
            frames += [
                ("response.output_item.added", {"type": "response.output_item.added",
                 "output_index": 0, "item": item}),
                ("response.output_item.done", {"type": "response.output_item.done",
                 "output_index": 0, "item": item}),
            ]
        frames.append(("response.completed", {"type": "response.completed",
                       "response": {"id": rid, "usage": usage}}))
        return 200, "text/event-stream", sse(frames)


def openai_last(body):
    """(kind, value): ("output", function_call_output item) when the input
    ends with a tool result, else ("user", last user text)."""
    items = body.get("input") or []
    if items and items[-1].get("type") in ("function_call_output", "custom_tool_call_output"):
        return "output", items[-1]
    for it in reversed(items):
        if it.get("type") == "message" and it.get("role") == "user":
            texts = [c.get("text", "") for c in it.get("content", []) if isinstance(c, dict)]
            return "user", "\n".join(texts)
    return "user", ""


class MockAnthropic(_MockBase):
    """`POST /v1/messages`. `decide(body)` returns ("text", str),
    ("tool", name, input_dict, tool_use_id) or ("tools", [(name, input,
    id), …]) for parallel calls. Tool-less requests get a canned text
    without calling `decide`."""

    def __init__(self, log, decide):
        super().__init__(log, "anthropic")
        self.decide = decide
        self.n = 0

    def answer(self, path, body):
        if "count_tokens" in path:
            return 200, "application/json", b'{"input_tokens":100}'
        self.n += 1
        n = self.n
        if not body.get("tools"):
            step = ("text", "canned side reply")
        else:
            self.requests.append(body)
            step = self.decide(body)
        msgs = body.get("messages") or []
        self.log.ev("model", api="anthropic", n=n, step=step,
                    tools=len(body.get("tools") or []),
                    last_message=msgs[-1] if msgs else None)
        start = {"type": "message_start", "message": {"id": f"msg_mock_{n}", "type": "message",
                 "role": "assistant", "model": "claude-mock", "content": [], "stop_reason": None,
                 "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1,
                 "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}
        frames = [("message_start", start)]
        if step[0] == "text":
            frames += [
                ("content_block_start", {"type": "content_block_start", "index": 0,
                 "content_block": {"type": "text", "text": ""}}),
                ("content_block_delta", {"type": "content_block_delta", "index": 0,
                 "delta": {"type": "text_delta", "text": step[1]}}),
                ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn",
                 "stop_sequence": None}, "usage": {"output_tokens": 5}}),
            ]
        else:
            # ("tool", name, input, id) or ("tools", [(name, input, id), …])
            uses = [step[1:]] if step[0] == "tool" else step[1]
            for i, (name, inp, tid) in enumerate(uses):
                frames += [
                    ("content_block_start", {"type": "content_block_start", "index": i,
                     "content_block": {"type": "tool_use", "id": tid, "name": name, "input": {}}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": i,
                     "delta": {"type": "input_json_delta", "partial_json": json.dumps(inp)}}),
                    ("content_block_stop", {"type": "content_block_stop", "index": i}),
                ]
            frames.append(("message_delta", {"type": "message_delta", "delta": {
                "stop_reason": "tool_use", "stop_sequence": None}, "usage": {"output_tokens": 5}}))
        frames.append(("message_stop", {"type": "message_stop"}))
        if not body.get("stream", False):
            content = ([{"type": "text", "text": step[1]}] if step[0] == "text" else
                       [{"type": "tool_use", "id": t, "name": n, "input": i}
                        for (n, i, t) in ([step[1:]] if step[0] == "tool" else step[1])])
            msg = dict(start["message"], content=content,
                       stop_reason="end_turn" if step[0] == "text" else "tool_use")
            return 200, "application/json", json.dumps(msg).encode()
        return 200, "text/event-stream", sse(frames)


def anthropic_last(body):
    """(kind, value): ("tool_result", block) when the last user message holds
    a tool result, else ("user", last user text block)."""
    for m in reversed(body.get("messages") or []):
        if m.get("role") != "user":
            continue
        c = m.get("content")
        if isinstance(c, str):
            return "user", c
        for b in reversed(c or []):
            if b.get("type") == "tool_result":
                return "tool_result", b
        texts = [b.get("text", "") for b in c or [] if b.get("type") == "text"]
        return "user", texts[-1] if texts else ""
    return "user", ""


# ------------------------------------------------------------ tmux

class Tmux:
    def __init__(self, dirpath, name, cwd, argv, env, log):
        self.sock = os.path.join(dirpath, f"tmux-{name}.sock")
        self.name, self.log = name, log
        cmd = "env -i " + " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        cmd += " " + " ".join(shlex.quote(a) for a in argv)
        script = os.path.join(dirpath, f"tui-{name}.sh")
        with open(script, "w") as f:
            f.write(f"cd {shlex.quote(cwd)}\n{cmd}\necho EXITED rc=$?\nsleep 300\n")
        self._tmux("-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "200", "-y", "50",
                   f"sh {shlex.quote(script)}")
        self.log.ev("tui-start", name=name, argv=argv)

    def _tmux(self, *args):
        return subprocess.run(["tmux", "-S", self.sock, *args], capture_output=True, text=True)

    def screen(self):
        return self._tmux("capture-pane", "-p", "-t", self.name).stdout

    def type(self, text, enter=True):
        self._tmux("send-keys", "-t", self.name, "-l", text)
        if enter:
            time.sleep(0.45)
            self._tmux("send-keys", "-t", self.name, "Enter")

    def key(self, *keys):
        self._tmux("send-keys", "-t", self.name, *keys)

    def wait(self, pred, timeout=30, what="screen"):
        if isinstance(pred, str):
            s = pred
            pred = lambda scr: s in scr  # noqa: E731
        deadline = time.time() + timeout
        while time.time() < deadline:
            scr = self.screen()
            if pred(scr):
                return scr
            time.sleep(0.1)
        scr = self.screen()
        self.log.ev("screen-timeout", name=self.name, what=what, screen=scr)
        raise TimeoutError(f"{self.name}: {what} not on screen within {timeout}s")

    def snap(self, label):
        scr = self.screen()
        self.log.ev("screen", name=self.name, label=label,
                    screen="\n".join(ln.rstrip() for ln in scr.splitlines() if ln.strip()))
        return scr

    def kill(self):
        self._tmux("kill-server")


def require_netns():
    """Refuse to run unless loopback is the only interface up (run-in-netns.sh)."""
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = [ln.split(":")[1].strip() for ln in out.splitlines() if ln.strip()]
    if names != ["lo"]:
        sys.exit(f"refusing to run outside a private network namespace (links: {names}); "
                 f"use run-in-netns.sh")
