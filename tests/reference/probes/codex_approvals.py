#!/usr/bin/env python3
"""Probe: Codex 0.169.0 approvals seen by a second app-server client.

What it shows (facts recorded in ../approvals.md §1):
- the app-server and TUI started as `abg --safe` starts them (no
  approval/sandbox override on the app-server, TUI `--remote … --remote-auth-
  token-env ABG_CODEX_TOKEN -c features.daemon_auto_start=false`, no `--yolo`),
  with the user's config saying `approval_policy = "on-request"`;
- a second WebSocket client ("daemon", like abg's) subscribed to the TUI's
  thread receives `item/commandExecution/requestApproval` and
  `item/fileChange/requestApproval` (the TUI's own traffic is logged through a
  byte-transparent relay, `WsSpy`);
- scenarios, one TUI turn each (`scn <name>`):
    client_accept   the daemon answers accept first: resolved, TUI dialog closes
    client_decline  the daemon answers decline first
    tui_first       the TUI answers (`y`) first: what the daemon sees; a late
                    daemon answer is ignored
    disconnect      the daemon disconnects while a request is pending: the TUI
                    dialog stays and still works; a client connecting after
                    that gets the pending request replayed on subscribe
    late_answer     a client that subscribes late gets the replay and answers it
    patch_accept    apply_patch outside the writable roots: fileChange request,
                    the daemon accepts
    patch_decline   same, the daemon declines
    tui_policy / tui_cancel / patch_tui_session
                    the TUI answers with `p` (don't ask again for this
                    prefix), Esc, and `a` (don't ask again for these files):
                    the exact result the TUI sends for each
- how the mock model script looks: the model asks `exec_command` with
  `sandbox_permissions: "require_escalated"` (what raises the prompt under
  on-request + workspace-write), then answers with text.

How to run (root, pinned CLIs installed):
    set -a; . ~/.cache/abg-e2e/cli/env; set +a
    tests/reference/probes/run-in-netns.sh tests/reference/probes/codex_approvals.py [OUT_DIR]
OUT_DIR (default: a new /tmp/codex-approvals.XXXX) receives `events.jsonl`
(every frame each client and the TUI sent/received, model requests, screens)
and `summary.json`. Takes about 40 s.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from probelib import Log, MockOpenAI, Tmux, WsClient, WsSpy, openai_last, require_netns  # noqa: E402

CODEX = os.environ.get("ABG_E2E_CODEX") or sys.exit("set ABG_E2E_CODEX (see header)")
CMD_DIALOG = "Would you like to run the following command?"
PATCH_DIALOG = "Would you like to make the following edits?"
COMPOSER = "Ask Codex to do anything"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def main():
    require_netns()
    out = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="codex-approvals.")
    os.makedirs(out, exist_ok=True)
    # Not under /tmp: the workspace-write sandbox lets Codex write /tmp freely,
    # so a patch there would never ask.
    root = os.path.realpath(tempfile.mkdtemp(prefix="codex-probe.", dir="/var/tmp"))
    log = Log(os.path.join(out, "events.jsonl"))
    summary = {}
    home, chome, work, outside = (os.path.join(root, d) for d in ("home", "codex-home", "work", "outside"))
    for d in (home, chome, work, outside):
        os.makedirs(d)

    calls = {}

    def decide(body):
        kind, val = openai_last(body)
        if kind == "output":
            out_text = val.get("output")
            summary.setdefault("model_saw_output", {})[val.get("call_id")] = out_text
            return ("text", f"done after {val.get('call_id')}")
        if val.startswith("scn "):
            name = val.split()[1]
            cid = f"call_{name}"
            calls[name] = cid
            if name.startswith("patch"):
                target = os.path.join(outside, f"{name}.txt")
                patch = f"*** Begin Patch\n*** Add File: {target}\n+written by {name}\n*** End Patch\n"
                return ("call", "exec_command", {"cmd": f"apply_patch <<'EOF'\n{patch}EOF\n"}, cid)
            return ("call", "exec_command", {"cmd": f"touch APPROVED-{name}",
                                             "sandbox_permissions": "require_escalated",
                                             "justification": f"probe {name}"}, cid)
        return ("text", f"ok {val}")

    mock = MockOpenAI(log, decide)
    with open(os.path.join(chome, "config.toml"), "w") as f:
        f.write(f'''model = "gpt-5.5"
model_provider = "mock"
approval_policy = "on-request"
check_for_update_on_startup = false

[model_providers.mock]
name = "mock"
base_url = "http://127.0.0.1:{mock.port}/v1"
wire_api = "responses"
env_key = "MOCK_API_KEY"
request_max_retries = 0
stream_max_retries = 0
stream_idle_timeout_ms = 20000

[analytics]
enabled = false

[features]
plugins = false
remote_plugin = false
daemon_auto_start = false

[tui]
screen_reader_detection_done = true

[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"

[projects."{work}"]
trust_level = "trusted"
''')
    token = os.urandom(32).hex()
    tfile = os.path.join(root, "codex.token")
    with open(os.open(tfile, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
        f.write(token)
    env = {"HOME": home, "CODEX_HOME": chome, "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "TERM": "xterm-256color", "MOCK_API_KEY": "dummy", "ABG_CODEX_TOKEN": token,
           "LANG": "C.UTF-8"}
    port = free_port()
    # What src/codex/appserver.rs `args(port, token_file, Mode::Safe)` passes.
    as_argv = [CODEX, "app-server", "--listen", f"ws://127.0.0.1:{port}", "--ws-auth",
               "capability-token", "--ws-token-file", tfile, "-c", "features.daemon_auto_start=false"]
    as_err = open(os.path.join(out, "app-server.stderr"), "w")
    app = subprocess.Popen(as_argv, cwd=work, env=env, stdout=as_err, stderr=as_err,
                           start_new_session=True)
    log.ev("app-server", argv=as_argv, pid=app.pid)
    tui = None
    try:
        deadline = time.time() + 20
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise TimeoutError("app-server not ready")
            time.sleep(0.1)
        spy = WsSpy("tui", port, log)
        # What src/codex/launch.rs `plan(…, safe=true)` runs (URL = the spy).
        tui_argv = [CODEX, "--remote", f"ws://127.0.0.1:{spy.port}", "--remote-auth-token-env",
                    "ABG_CODEX_TOKEN", "-c", "features.daemon_auto_start=false"]
        tui = Tmux(root, "codex", work, tui_argv, env, log)
        tui.wait(COMPOSER, what="composer")
        # The TUI creates its thread at start-up; it is resumable only after
        # its first turn (no rollout before), so warm up with one text turn.
        tui.type("hello")
        tui.wait("ok hello", what="warm-up reply")
        tui.snap("after warm-up")

        def connect(name):
            c = WsClient(name, port, token, log)
            c.init()
            return c

        def find_thread(c):
            loaded = c.request("thread/loaded/list", {})["result"]["data"]
            for tid in loaded:
                t = c.request("thread/read", {"threadId": tid, "includeTurns": False})
                if (t.get("result") or {}).get("thread", {}).get("preview") == "hello":
                    return tid
            raise RuntimeError(f"TUI thread not found among {loaded}")

        def subscribe(c, tid):
            return c.request("thread/resume", {"threadId": tid, "excludeTurns": True})

        daemon = connect("daemon")
        tid = find_thread(daemon)
        summary["thread_id"] = tid
        r = subscribe(daemon, tid)
        summary["resume_status_idle"] = r["result"]["thread"].get("status")

        def is_req(m, method=None):
            return "id" in m and "method" in m and (method is None or m["method"] == method)

        def start(name):
            daemon.drain()
            tui.type(f"scn {name}")

        def wait_req(c, method, timeout=20):
            return c.wait(lambda m: is_req(m, method), timeout, method)

        def wait_turn_done(c):
            return c.wait(lambda m: m.get("method") == "turn/completed", 20, "turn/completed")

        def answer(c, req, result):
            c.send({"id": req["id"], "result": result})

        def no_dialog(scr):
            return CMD_DIALOG not in scr and PATCH_DIALOG not in scr

        # ---- client_accept
        t0 = time.time()
        start("client_accept")
        req = wait_req(daemon, "item/commandExecution/requestApproval")
        summary["command_request"] = req
        tui.wait(CMD_DIALOG, what="command dialog")
        summary["command_dialog"] = tui.snap("client_accept: dialog")
        answer(daemon, req, {"decision": "accept"})
        res = daemon.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
        summary["resolved_after_daemon_answer"] = res
        tui.wait(no_dialog, what="dialog closed")
        done = wait_turn_done(daemon)
        summary["client_accept"] = {
            "file_exists": os.path.exists(os.path.join(work, "APPROVED-client_accept")),
            "turn": done["params"]["turn"]["status"],
            "status_changes": daemon.seen(lambda m: m.get("method") == "thread/status/changed", t0),
            "item_completed": daemon.seen(lambda m: m.get("method") == "item/completed"
                                          and m["params"]["item"].get("type") == "commandExecution", t0),
            "screen_after": tui.snap("client_accept: after"),
        }
        tui.wait(COMPOSER, what="composer back")

        # ---- client_decline
        t0 = time.time()
        start("client_decline")
        req = wait_req(daemon, "item/commandExecution/requestApproval")
        tui.wait(CMD_DIALOG, what="command dialog")
        answer(daemon, req, {"decision": "decline"})
        daemon.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
        tui.wait(no_dialog, what="dialog closed")
        done = wait_turn_done(daemon)
        summary["client_decline"] = {
            "file_exists": os.path.exists(os.path.join(work, "APPROVED-client_decline")),
            "turn": done["params"]["turn"]["status"],
            "item_completed": daemon.seen(lambda m: m.get("method") == "item/completed"
                                          and m["params"]["item"].get("type") == "commandExecution", t0),
            "screen_after": tui.snap("client_decline: after"),
        }
        tui.wait(COMPOSER, what="composer back")

        # ---- tui_first
        t0 = time.time()
        start("tui_first")
        req = wait_req(daemon, "item/commandExecution/requestApproval")
        tui.wait(CMD_DIALOG, what="command dialog")
        tui.key("y")
        res = daemon.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
        time.sleep(0.3)
        answer(daemon, req, {"decision": "decline"})  # late: must be ignored
        time.sleep(1.5)
        done = wait_turn_done(daemon)
        summary["tui_first"] = {
            "request_id": req["id"],
            "resolved": res,
            "tui_sent": [m for (t, m) in spy.sent if t >= t0 and "result" in m],
            "daemon_msgs_with_that_id_after_late_answer": daemon.seen(
                lambda m: m.get("id") == req["id"] and "method" not in m, t0),
            "file_exists": os.path.exists(os.path.join(work, "APPROVED-tui_first")),
            "turn": done["params"]["turn"]["status"],
            "screen_after": tui.snap("tui_first: after"),
        }
        tui.wait(COMPOSER, what="composer back")

        # ---- disconnect: daemon goes away with a request pending
        t0 = time.time()
        start("disconnect")
        req = wait_req(daemon, "item/commandExecution/requestApproval")
        tui.wait(CMD_DIALOG, what="command dialog")
        daemon.close()
        time.sleep(1.5)
        scr = tui.snap("disconnect: 1.5 s after the daemon closed")
        still_open = CMD_DIALOG in scr
        # A new connection (a restarted daemon) subscribes: replay?
        d2 = connect("daemon2")
        r = subscribe(d2, tid)
        replay = d2.wait(lambda m: is_req(m), 5, "replayed request")
        tui.key("y")
        res = d2.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
        tui.wait(no_dialog, what="dialog closed")
        done = wait_turn_done(d2)
        summary["disconnect"] = {
            "original_request": req,
            "dialog_open_after_disconnect": still_open,
            "resume_result_status": r["result"]["thread"].get("status"),
            "replayed": replay,
            "resolved_for_new_client": res,
            "file_exists": os.path.exists(os.path.join(work, "APPROVED-disconnect")),
            "turn": done["params"]["turn"]["status"],
            "order_after_resume": [m.get("method") or f"reply:{m.get('id')}"
                                   for (t, m) in d2.all if t >= t0][:12],
        }
        daemon = d2
        tui.wait(COMPOSER, what="composer back")

        # ---- late_answer: a fresh client subscribes late and answers
        t0 = time.time()
        start("late_answer")
        req = wait_req(daemon, "item/commandExecution/requestApproval")
        tui.wait(CMD_DIALOG, what="command dialog")
        late = connect("late")
        before = late.seen(lambda m: is_req(m))
        subscribe(late, tid)
        replay = late.wait(lambda m: is_req(m), 5, "replayed request")
        answer(late, replay, {"decision": "accept"})
        res_d = daemon.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
        res_l = late.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
        tui.wait(no_dialog, what="dialog closed")
        done = wait_turn_done(daemon)
        summary["late_answer"] = {
            "requests_before_subscribe": before,
            "replay_equals_original": replay == req,
            "replayed": replay,
            "resolved_daemon": res_d, "resolved_late": res_l,
            "file_exists": os.path.exists(os.path.join(work, "APPROVED-late_answer")),
            "turn": done["params"]["turn"]["status"],
        }
        late.close()
        tui.wait(COMPOSER, what="composer back")

        # ---- patch_accept / patch_decline
        for name, decision in (("patch_accept", "accept"), ("patch_decline", "decline")):
            t0 = time.time()
            start(name)
            req = wait_req(daemon, "item/fileChange/requestApproval")
            tui.wait(PATCH_DIALOG, what="patch dialog")
            dialog = tui.snap(f"{name}: dialog")
            started = daemon.seen(lambda m: m.get("method") == "item/started"
                                  and m["params"]["item"].get("type") == "fileChange", t0)
            answer(daemon, req, {"decision": decision})
            daemon.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
            tui.wait(no_dialog, what="dialog closed")
            done = wait_turn_done(daemon)
            summary[name] = {
                "request": req, "item_started": started, "dialog": dialog,
                "item_completed": daemon.seen(lambda m: m.get("method") == "item/completed"
                                              and m["params"]["item"].get("type") == "fileChange", t0),
                "file_exists": os.path.exists(os.path.join(outside, f"{name}.txt")),
                "turn": done["params"]["turn"]["status"],
                "screen_after": tui.snap(f"{name}: after"),
            }
            tui.wait(COMPOSER, what="composer back")
        # ---- the TUI's other answers: what it sends for each option
        for name, key, dialog in (("tui_policy", "p", CMD_DIALOG), ("tui_cancel", "Escape", CMD_DIALOG),
                                  ("patch_tui_session", "a", PATCH_DIALOG)):
            t0 = time.time()
            start(name)
            req = wait_req(daemon, None)
            tui.wait(dialog, what="dialog")
            time.sleep(0.5)
            tui.key(key)
            res = daemon.wait(lambda m: m.get("method") == "serverRequest/resolved", 10, "resolved")
            done = wait_turn_done(daemon)
            time.sleep(0.5)
            summary[name] = {
                "request_method": req["method"],
                "tui_sent": [m for (t, m) in spy.sent if t >= t0 and "result" in m],
                "resolved": res,
                "turn": done["params"]["turn"]["status"],
                "screen_after": tui.snap(f"{name}: after"),
            }
            tui.wait(COMPOSER, what="composer back")
        summary["tui_all_sent_results"] = [m for (t, m) in spy.sent if "result" in m]
        summary["ok"] = True
    except Exception as e:  # record what happened, then re-raise
        summary["error"] = repr(e)
        if tui:
            summary["last_screen"] = tui.screen()
        raise
    finally:
        with open(os.path.join(out, "summary.json"), "w") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
        if tui:
            tui.kill()
        try:
            os.killpg(app.pid, 15)
        except ProcessLookupError:
            pass
        app.wait(timeout=10)
        shutil.rmtree(root, ignore_errors=True)
        print(f"output in {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
