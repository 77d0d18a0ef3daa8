#!/usr/bin/env python3
"""Probe: Claude Code 2.1.330's channel permission relay, and the hooks that
fire around a permission dialog.

What it shows (facts recorded in ../approvals.md §2):
- a stdio MCP channel server declaring `experimental["claude/channel"]` and
  `experimental["claude/channel/permission"]`, loaded the way `abg claude`
  loads it (`--mcp-config <file> --dangerously-load-development-channels
  server:bridge --settings <file> --debug-file <file>`, no bypass flag; the
  user's settings say `permissions.defaultMode = "default"`), receives
  `notifications/claude/channel/permission_request` when the model calls a
  tool that needs permission;
- scenarios, one TUI turn each (`scn <name>`):
    relay_allow     the relay answers allow first: the dialog closes, Bash runs
    relay_deny      the relay answers deny first: what the model gets
    tui_allow       the human answers "Yes" in the TUI first: what the server
                    sees (nothing?), then a late relay answer (debug log)
    tui_deny        the human presses Esc in the TUI first
    relay_write     a Write tool call: what `input_preview` carries
    slow_relay      the dialog stays up 8 s (Notification hook timer), then
                    the relay allows
    parallel        two Bash calls in one message: one request at a time?
    server_gone     the channel server disconnects with a dialog pending
- every hook event around it (PreToolUse, PermissionRequest, Notification,
  PostToolUse, PostToolUseFailure, PermissionDenied, Stop, StopFailure,
  UserPromptSubmit) logged with its full stdin JSON, so one can see how a
  bridge learns that a dialog was settled in the TUI.

The channel server's logic runs in this process behind a TCP listener;
Claude runs a 20-line stdio<->TCP relay as the MCP command (as the repo's
tests/support/mcp_channel.rs does).

How to run (root, pinned CLIs installed):
    set -a; . ~/.cache/abg-e2e/cli/env; set +a
    tests/reference/probes/run-in-netns.sh tests/reference/probes/claude_relay.py [OUT_DIR]
    (add `--no-hooks` after OUT_DIR to run without the hook layer; `--auto`
    to leave the permission mode at Claude's own default, auto mode, and
    run only auto_touch (touch in the project) and auto_risky (curl | sh); a
    request that gets the relay then is denied through it)
OUT_DIR (default: a new /tmp/claude-relay.XXXX) receives `events.jsonl`,
`hooks.jsonl`, `debug.log` (Claude's) and `summary.json`. About 60 s.
"""

import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probelib import Log, MockAnthropic, Tmux, anthropic_last, require_netns  # noqa: E402

CLAUDE = os.environ.get("ABG_E2E_CLAUDE") or sys.exit("set ABG_E2E_CLAUDE (see header)")
# "Do you want to proceed?" (Bash), "Do you want to create written.txt?"
# (Write): the dialog's question line.
DIALOG = "Do you want to "
DEV_DIALOG = "I am using this for local development"
AUTO_OFFER = "Make auto mode your default permission mode?"
HOOK_EVENTS = ["PreToolUse", "PermissionRequest", "Notification", "PostToolUse",
               "PostToolUseFailure", "PermissionDenied", "Stop", "StopFailure",
               "UserPromptSubmit"]

RELAY = r'''import os, socket, sys, threading
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def up():
    while True:
        b = os.read(0, 65536)
        if not b:
            break
        s.sendall(b)
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
threading.Thread(target=up, daemon=True).start()
while True:
    b = s.recv(65536)
    if not b:
        break
    while b:
        b = b[os.write(1, b):]
'''

HOOK = r'''import json, sys, time
data = sys.stdin.read()
try:
    data = json.loads(data)
except ValueError:
    pass
with open(sys.argv[1], "a") as f:
    f.write(json.dumps({"at": time.time(), "event": sys.argv[2], "input": data}) + "\n")
'''


class Channel:
    """The MCP server side: newline-delimited JSON-RPC over the relay."""

    def __init__(self, log):
        self.log = log
        self.msgs = []  # (time, msg) from Claude
        self.cond = threading.Condition()
        self.conn = None
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        threading.Thread(target=self._run, daemon=True).start()

    def send(self, msg):
        self.log.ev("mcp-send", msg=msg)
        self.conn.sendall((json.dumps(msg) + "\n").encode())

    def _run(self):
        self.conn, _ = self.srv.accept()
        buf = b""
        while True:
            chunk = self.conn.recv(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if not line.strip():
                    continue
                msg = json.loads(line)
                self.log.ev("mcp-recv", msg=msg)
                with self.cond:
                    self.msgs.append((time.time(), msg))
                    self.cond.notify_all()
                self._handle(msg)
        self.log.ev("mcp-closed")

    def _handle(self, m):
        if "id" not in m or "method" not in m:
            return
        meth, rid = m["method"], m["id"]
        if meth == "initialize":
            self.send({"jsonrpc": "2.0", "id": rid, "result": {
                "protocolVersion": "2025-06-18",
                "capabilities": {"tools": {}, "experimental": {
                    "claude/channel": {}, "claude/channel/permission": {}}},
                "serverInfo": {"name": "bridge", "version": "0.0.1"},
                "instructions": "Probe channel server."}})
        elif meth == "tools/list":
            self.send({"jsonrpc": "2.0", "id": rid, "result": {"tools": [{
                "name": "reply", "description": "Reply to the peer.",
                "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                                "required": ["text"]}}]}})
        elif meth == "tools/call":
            self.send({"jsonrpc": "2.0", "id": rid, "result": {
                "content": [{"type": "text", "text": "sent"}]}})
        elif meth == "ping":
            self.send({"jsonrpc": "2.0", "id": rid, "result": {}})
        else:
            self.send({"jsonrpc": "2.0", "id": rid,
                       "error": {"code": -32601, "message": f"Method not found: {meth}"}})

    def wait(self, pred, timeout=20, what="message", since=0.0):
        deadline = time.time() + timeout
        with self.cond:
            while True:
                for (t, m) in self.msgs:
                    if t >= since and pred(m):
                        return m
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError(f"channel: no {what} within {timeout}s")
                self.cond.wait(left)

    def seen(self, since):
        with self.cond:
            return [m for (t, m) in self.msgs if t >= since]


def last_prompt(body):
    """The last user text block that is not a tool result or a reminder."""
    for m in reversed(body.get("messages") or []):
        if m.get("role") != "user":
            continue
        c = m.get("content")
        if isinstance(c, str):
            return c
        for b in reversed(c or []):
            if b.get("type") == "text" and not b["text"].startswith("<"):
                return b["text"]
    return ""


def main():
    require_netns()
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    hooks_on = "--no-hooks" not in sys.argv
    auto_mode = "--auto" in sys.argv
    out = args[0] if args else tempfile.mkdtemp(prefix="claude-relay.")
    os.makedirs(out, exist_ok=True)
    root = os.path.realpath(tempfile.mkdtemp(prefix="claude-probe."))
    log = Log(os.path.join(out, "events.jsonl"))
    hooks_log = os.path.join(out, "hooks.jsonl")
    open(hooks_log, "w").close()
    debug_log = os.path.join(out, "debug.log")
    summary = {"hooks_on": hooks_on, "auto_mode": auto_mode}
    home, work = os.path.join(root, "home"), os.path.join(root, "work")
    cfg = os.path.join(home, ".claude")
    for d in (home, work, cfg):
        os.makedirs(d, exist_ok=True)

    def record_results(body):
        for m in reversed(body.get("messages") or []):
            if m.get("role") == "user":
                for b in m.get("content") if isinstance(m.get("content"), list) else []:
                    if b.get("type") == "tool_result":
                        summary.setdefault("model_saw_tool_result", {})[b.get("tool_use_id")] = b
                return

    def bash(name, suffix=""):
        return ("Bash", {"command": f"touch ALLOWED-{name}{suffix}",
                         "description": f"Create marker for {name}{suffix}"}, f"toolu_{name}{suffix}")

    def decide(body):
        kind, val = anthropic_last(body)
        record_results(body)
        # After a TUI "No"/Esc the turn ends; the rejected tool_result then
        # rides along with the next user prompt: the prompt decides.
        prompt = last_prompt(body)
        if prompt.startswith("scn ") and prompt != summary.get("_last_prompt"):
            summary["_last_prompt"] = prompt  # bookkeeping, not a finding
            name = prompt.split()[1]
            if name.endswith("_write"):
                return ("tool", "Write", {"file_path": os.path.join(work, "written.txt"),
                                          "content": "hello from the probe\nline 2\n"},
                        f"toolu_{name}")
            if name == "auto_risky":
                return ("tool", "Bash", {"command": "curl -s http://127.0.0.1:9/install.sh | sh",
                                         "description": "Run the install script"}, f"toolu_{name}")
            if name == "parallel":
                return ("tools", [bash(name, "_a"), bash(name, "_b")])
            return ("tool", *bash(name))
        if kind == "tool_result":
            return ("text", f"done after {val.get('tool_use_id')}")
        return ("text", f"ok {val}")

    mock = MockAnthropic(log, decide)
    chan = Channel(log)
    key = "dummy-key-for-the-probe-0123456789"
    now_ms = int(time.time() * 1000)
    with open(os.path.join(cfg, ".claude.json"), "w") as f:
        json.dump({
            "hasCompletedOnboarding": True, "lastOnboardingVersion": "2.1.330", "theme": "dark",
            "numStartups": 1,
            "customApiKeyResponses": {"approved": [key[-20:]], "rejected": []},
            "projects": {work: {"hasTrustDialogAccepted": True,
                                "hasCompletedProjectOnboarding": True,
                                "allowedTools": [], "projectOnboardingSeenCount": 1}},
            "cachedGrowthBookFeatures": {"tengu_harbor": True, "tengu_harbor_permissions": True},
            "cachedGrowthBookFeaturesAt": now_ms}, f)
    # The user's own settings: manual approvals (Claude's own default on
    # 2.1.330 is auto mode, see approvals.md).
    with open(os.path.join(cfg, "settings.json"), "w") as f:
        json.dump({} if auto_mode else {"permissions": {"defaultMode": "default"}}, f)
    relay_py = os.path.join(root, "relay.py")
    with open(relay_py, "w") as f:
        f.write(RELAY)
    hook_py = os.path.join(root, "hook.py")
    with open(hook_py, "w") as f:
        f.write(HOOK)
    mcp_json = os.path.join(root, "mcp.json")
    with open(mcp_json, "w") as f:
        json.dump({"mcpServers": {"bridge": {"type": "stdio", "command": sys.executable,
                                             "args": [relay_py, str(chan.port)]}}}, f)
    settings = {}
    if hooks_on:
        settings["hooks"] = {ev: [{"hooks": [{"type": "command", "timeout": 10,
                                              "command": f"{sys.executable} {hook_py} {hooks_log} {ev}"}]}]
                             for ev in HOOK_EVENTS}
        for ev in ("PreToolUse", "PostToolUse", "PermissionRequest", "PostToolUseFailure",
                   "PermissionDenied"):
            settings["hooks"][ev][0]["matcher"] = "*"
    settings_json = os.path.join(root, "settings.json")
    with open(settings_json, "w") as f:
        json.dump(settings, f)
    env = {"HOME": home, "CLAUDE_CONFIG_DIR": cfg, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "TERM": "xterm-256color", "LANG": "C.UTF-8",
           "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{mock.port}", "ANTHROPIC_API_KEY": key,
           "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "DISABLE_AUTOUPDATER": "1",
           "DISABLE_BUG_COMMAND": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "CLAUDE_CODE_DISABLE_FEEDBACK_SURVEY": "1", "IS_SANDBOX": "1",
           "CLAUDE_CODE_GB_DISK_CACHE_WHEN_TELEMETRY_OFF": "1"}
    # What src/claude/launch.rs `plan(…, safe=true, Via::Generated)` runs.
    argv = [CLAUDE, "--mcp-config", mcp_json, "--dangerously-load-development-channels",
            "server:bridge", "--settings", settings_json, "--debug-file", debug_log]
    tui = Tmux(root, "claude", work, argv, env, log)

    def hooks_since(t0):
        out_ = []
        for line in open(hooks_log):
            r = json.loads(line)
            if r["at"] >= t0:
                out_.append(r)
        return out_

    def debug_since(pos):
        with open(debug_log, errors="replace") as f:
            f.seek(pos)
            return f.read()

    def debug_pos():
        try:
            return os.path.getsize(debug_log)
        except OSError:
            return 0

    def is_perm_req(m):
        return m.get("method") == "notifications/claude/channel/permission_request"

    def answer(rid, behavior):
        chan.send({"jsonrpc": "2.0", "method": "notifications/claude/channel/permission",
                   "params": {"request_id": rid, "behavior": behavior}})

    def wait_model_after(tool_id, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if tool_id in summary.get("model_saw_tool_result", {}):
                return summary["model_saw_tool_result"][tool_id]
            time.sleep(0.1)
        return None

    try:
        tui.wait(DEV_DIALOG, what="dev-channels dialog")
        tui.key("Enter")
        tui.wait(lambda s: DEV_DIALOG not in s and "❯" in s, what="prompt")
        time.sleep(1.0)
        if auto_mode:
            summary["auto_footer"] = tui.wait("auto mode on", what="auto mode footer")
        # 2.1.330 may offer to make auto mode the default on start-up (its
        # option 1 is "Yes"): keep manual mode, as a --safe user would.
        if not auto_mode and AUTO_OFFER in tui.screen():
            summary["auto_mode_offer"] = tui.snap("auto-mode offer")
            tui.key("Down")
            time.sleep(0.3)
            tui.key("Enter")
            tui.wait(lambda s: AUTO_OFFER not in s, what="auto-mode offer gone")
        if not auto_mode:
            tui.wait("manual mode on", what="manual mode footer")
        deadline = time.time() + 20
        while "Channel notifications" not in debug_since(0):
            if time.time() > deadline:
                raise TimeoutError("no channel gate line in the debug log")
            time.sleep(0.1)
        summary["gate_lines"] = [ln for ln in debug_since(0).splitlines()
                                 if "Channel notifications" in ln][:10]
        summary["startup_screen"] = tui.snap("ready")
        time.sleep(1)

        def run_parallel():
            # Two Bash calls in one assistant message: one request at a time?
            t0, pos = time.time(), debug_pos()
            tui.type("scn parallel")
            first = chan.wait(is_perm_req, 20, "first permission_request", since=t0)
            tui.wait(DIALOG, what="permission dialog")
            time.sleep(2.0)
            before = [m for m in chan.seen(t0) if is_perm_req(m)]
            answer(first["params"]["request_id"], "allow")
            t1 = time.time()
            second = chan.wait(lambda m: is_perm_req(m) and m != first, 20,
                               "second permission_request", since=t1 - 0.01)
            tui.wait(DIALOG, what="second dialog")
            answer(second["params"]["request_id"], "allow")
            tui.wait(lambda sc: DIALOG not in sc, timeout=10, what="dialog closed")
            time.sleep(2.0)
            summary["parallel"] = {
                "requests_pending_before_first_answer": before,
                "second_request": second,
                "second_after_first_answer_s": round(time.time() - t1, 3),
                "files": [os.path.exists(os.path.join(work, f"ALLOWED-parallel{x}"))
                          for x in ("_a", "_b")],
                "hooks": hooks_since(t0),
                "debug_excerpt": [ln for ln in debug_since(pos).splitlines()
                                  if "permission" in ln.lower() or "stall" in ln.lower()],
                "screen_after": tui.snap("parallel: after"),
            }
            tui.wait("❯", what="prompt back")
            time.sleep(0.5)

        def run_server_gone():
            # The channel server goes away with a dialog pending: does the
            # TUI's own dialog stay, and still work?
            t0, pos = time.time(), debug_pos()
            tui.type("scn server_gone")
            req = chan.wait(is_perm_req, 20, "permission_request", since=t0)
            tui.wait(DIALOG, what="permission dialog")
            chan.conn.shutdown(socket.SHUT_RDWR)
            chan.conn.close()
            time.sleep(2.0)
            scr = tui.snap("server_gone: 2 s after the server closed")
            still = DIALOG in scr
            time.sleep(0.5)
            tui.key("Enter")
            tui.wait(lambda sc: DIALOG not in sc, timeout=10, what="dialog closed")
            time.sleep(1.5)
            summary["server_gone"] = {
                "request": req, "dialog_open_after_server_closed": still,
                "file_exists_after_tui_yes": os.path.exists(os.path.join(work, "ALLOWED-server_gone")),
                "debug_excerpt": [ln for ln in debug_since(pos).splitlines()
                                  if "bridge" in ln or "permission" in ln.lower()],
                "screen_after": tui.snap("server_gone: after"),
            }

        def run_auto():
            # No permission setting: Claude 2.1.330's own default (auto mode).
            for name in ("auto_touch", "auto_risky"):
                t0, pos, n0 = time.time(), debug_pos(), len(mock.requests)
                tui.type(f"scn {name}")
                deadline = time.time() + 25
                got, scr = None, ""
                notice = None
                while time.time() < deadline:
                    reqs = [m for m in chan.seen(t0) if is_perm_req(m)]
                    if reqs:
                        got = reqs[0]
                        break
                    # Offline only: the auto-mode classifier billing notice
                    # for a non-Anthropic base URL; continue past it.
                    if "Enter to continue" in tui.screen():
                        if notice is None:
                            notice = tui.snap(f"{name}: notice")
                        time.sleep(1.0)  # keys right after it appears are ignored
                        tui.key("Enter")
                        time.sleep(1.0)
                    if f"toolu_{name}" in summary.get("model_saw_tool_result", {}):
                        break
                    time.sleep(0.2)
                time.sleep(1.0)
                scr = tui.snap(f"{name}: after wait")
                if got and DIALOG in scr:
                    answer(got["params"]["request_id"], "deny")
                    time.sleep(2.0)
                time.sleep(1.0)
                summary[name] = {
                    "permission_request": got,
                    "notice": notice,
                    "dialog_seen": DIALOG in scr,
                    "screen_when_seen": scr,
                    "tool_result": summary.get("model_saw_tool_result", {}).get(f"toolu_{name}"),
                    "model_requests": [{"tools": len(b.get("tools") or []),
                                        "last_message": str((b.get("messages") or [None])[-1])[:600]}
                                       for b in mock.requests[n0:]],
                    "hooks": hooks_since(t0),
                    "debug_excerpt": [ln for ln in debug_since(pos).splitlines()
                                      if "auto" in ln.lower() or "classif" in ln.lower()
                                      or "permission" in ln.lower()][:40],
                    "screen_after": tui.snap(f"{name}: after"),
                }
                tui.wait("❯", what="prompt back")
                time.sleep(0.5)

        def scenario(name, act):
            t0, pos = time.time(), debug_pos()
            tui.type(f"scn {name}")
            req = chan.wait(is_perm_req, 20, "permission_request", since=t0)
            t_req = time.time()
            dialog = tui.wait(DIALOG, what="permission dialog")
            t_dialog = time.time()
            res = {"permission_request": req,
                   "dialog": "\n".join(ln.rstrip() for ln in dialog.splitlines() if ln.strip())}
            res.update(act(req, t0))
            res["dialog_closed"] = True
            try:
                tui.wait(lambda s: DIALOG not in s, timeout=10, what="dialog closed")
            except TimeoutError:
                res["dialog_closed"] = False
            res["model_after"] = wait_model_after(f"toolu_{name}", 15)
            time.sleep(1.5)  # let the turn end and the Stop hook run
            target = "written.txt" if name.endswith("_write") else f"ALLOWED-{name}"
            res["file_exists"] = os.path.exists(os.path.join(work, target))
            res["server_saw"] = [m for m in chan.seen(t0)]
            res["hooks"] = hooks_since(t0)
            res["debug_excerpt"] = [ln for ln in debug_since(pos).splitlines()
                                    if "permission" in ln.lower() or "channel" in ln.lower()]
            res["request_vs_dialog_s"] = round(t_dialog - t_req, 3)
            res["screen_after"] = tui.snap(f"{name}: after")
            summary[name] = res
            tui.wait("❯", what="prompt back")
            time.sleep(0.5)

        def relay(behavior):
            def act(req, t0):
                answer(req["params"]["request_id"], behavior)
                return {"relay_sent": behavior}
            return act

        def human(keys, late):
            def act(req, t0):
                presses = 0
                for _ in range(3):
                    # A dialog may ignore keys right after it appears.
                    time.sleep(1.0)
                    tui.key(*keys)
                    presses += 1
                    try:
                        tui.wait(lambda s: DIALOG not in s, timeout=3, what="dialog closed")
                        break
                    except TimeoutError:
                        continue
                time.sleep(1.0)
                after = [m for m in chan.seen(t0) if not is_perm_req(m)]
                pos = debug_pos()
                answer(req["params"]["request_id"], late)
                time.sleep(1.0)
                return {"human_keys": keys, "presses_needed": presses,
                        "server_got_after_human_answer": after,
                        "late_relay_answer": late,
                        "late_answer_debug": [ln for ln in debug_since(pos).splitlines()
                                              if "permission" in ln.lower()]}
            return act

        if auto_mode:
            run_auto()
            summary["ok"] = True
            return
        scenario("relay_allow", relay("allow"))
        scenario("relay_deny", relay("deny"))
        scenario("tui_allow", human(["Enter"], "deny"))
        scenario("tui_deny", human(["Escape"], "allow"))
        scenario("relay_write", relay("allow"))

        def slow(req, t0):
            # Leave the dialog up 8 s (Claude's permission_prompt
            # Notification timer is 6 s), then answer through the relay.
            time.sleep(8)
            answer(req["params"]["request_id"], "allow")
            return {"relay_sent": "allow", "after_s": 8}
        scenario("slow_relay", slow)
        run_parallel()
        run_server_gone()
        summary["written_exists"] = os.path.exists(os.path.join(work, "written.txt"))
        # Keep the session transcript: what a TUI "No" leaves there.
        for dp, _, fs in os.walk(os.path.join(cfg, "projects")):
            for fn in fs:
                if fn.endswith(".jsonl"):
                    shutil.copy(os.path.join(dp, fn), os.path.join(out, "transcript.jsonl"))
        summary["ok"] = True
    except Exception as e:
        summary["error"] = repr(e)
        summary["last_screen"] = tui.screen()
        raise
    finally:
        with open(os.path.join(out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
        tui.kill()
        # Claude keeps writing (MCP logs, .claude.json) while it exits.
        for _ in range(20):
            shutil.rmtree(root, ignore_errors=True)
            if not os.path.exists(root):
                break
            time.sleep(0.25)
        print(f"output in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
