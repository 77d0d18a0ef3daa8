#!/usr/bin/env python3
"""Minimal stdio MCP server with one `reply` tool, logging all it receives.

What it shows: what opencode sends a local (stdio) MCP server: the handshake,
tools/list, and the exact tools/call for `reply`, plus the argv, cwd and the
environment opencode gives the process (the `environment` config key).

Run (opencode starts it from config): python3 mcp_bridge.py <log file>
Every received line is appended to <log file> as {"recv": <message>}; the
first line is {"start": {"argv","cwd","pid","ppid","env"}}. The initialize
result carries `instructions` = "MCP-INSTRUCTIONS-MARKER ..." so a probe can
grep the model request for it.
"""
import json
import os
import sys

LOG = sys.argv[1] if len(sys.argv) > 1 else "/tmp/mcp_bridge.log"


def log(obj):
    with open(LOG, "a") as f:
        f.write(json.dumps(obj) + "\n")


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


log({"start": {"argv": sys.argv, "cwd": os.getcwd(), "pid": os.getpid(), "ppid": os.getppid(),
               "env": {k: v for k, v in os.environ.items() if k.startswith(("ABG", "OPENCODE", "HOME", "XDG"))}}})

TOOL = {"name": "reply", "description": "Send a message to a peer agent.",
        "inputSchema": {"type": "object", "properties": {"text": {"type": "string"},
                                                         "to": {"type": "string"}},
                        "required": ["text"]}}

for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    try:
        msg = json.loads(line)
    except ValueError:
        log({"bad": line})
        continue
    log({"recv": msg})
    mid, method = msg.get("id"), msg.get("method")
    if mid is None:
        continue
    if method == "initialize":
        send({"jsonrpc": "2.0", "id": mid, "result": {
            "protocolVersion": msg.get("params", {}).get("protocolVersion", "2025-06-18"),
            "capabilities": {"tools": {}}, "serverInfo": {"name": "bridge", "version": "0.0.1"},
            "instructions": "MCP-INSTRUCTIONS-MARKER use the reply tool to answer a peer."}})
    elif method == "tools/list":
        send({"jsonrpc": "2.0", "id": mid, "result": {"tools": [TOOL]}})
    elif method == "tools/call":
        text = msg.get("params", {}).get("arguments", {}).get("text", "")
        send({"jsonrpc": "2.0", "id": mid, "result": {"content": [{"type": "text", "text": "delivered: " + text}]}})
    elif method == "ping":
        send({"jsonrpc": "2.0", "id": mid, "result": {}})
    else:
        send({"jsonrpc": "2.0", "id": mid, "error": {"code": -32601, "message": "no method " + str(method)}})
log({"eof": os.getpid()})
