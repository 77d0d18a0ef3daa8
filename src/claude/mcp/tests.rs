//! Pins rmcp's handshake behaviour to what Claude Code 2.1.330 needs:
//! replays Claude's real opening sequence (`server/discover` first, then
//! `initialize` at 2025-11-25) and checks the legacy era is negotiated; and
//! the copy of the way `abg claude` did not choose stays idle.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::*;

struct Wire {
    write: tokio::io::WriteHalf<tokio::io::DuplexStream>,
    read: BufReader<tokio::io::ReadHalf<tokio::io::DuplexStream>>,
}

impl Wire {
    async fn send(&mut self, v: Value) {
        let mut line = v.to_string();
        line.push('\n');
        self.write.write_all(line.as_bytes()).await.expect("write");
    }

    async fn recv(&mut self) -> Value {
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(5), self.read.read_line(&mut line))
            .await
            .expect("answer in time")
            .expect("read");
        serde_json::from_str(&line).expect("json line")
    }
}

fn start() -> Wire {
    start_with(Shared::dormant("test: no pair"))
}

fn start_with(shared: Arc<Shared>) -> Wire {
    let (client, server) = tokio::io::duplex(1 << 20);
    let (sr, sw) = tokio::io::split(server);
    let handler = AbgMcp::new(shared);
    tokio::spawn(async move {
        if let Ok(running) = handler.serve((sr, sw)).await {
            let _ = running.waiting().await;
        }
    });
    let (cr, cw) = tokio::io::split(client);
    Wire {
        write: cw,
        read: BufReader::new(cr),
    }
}

#[tokio::test]
async fn claude_opening_sequence_negotiates_the_legacy_era() {
    let mut w = start();
    // What 2.1.330 sends first: the modern probe, version in params and _meta.
    w.send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "server/discover", "params": {
            "protocolVersion": "2026-07-28",
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientInfo": {"name": "claude-code", "version": "2.1.330"},
                "io.modelcontextprotocol/clientCapabilities": {}
            }
        }}),
    )
    .await;
    let discover = w.recv().await;
    assert_eq!(discover["id"], 0);
    assert!(
        discover["error"]["code"].is_i64(),
        "server/discover must fail: {discover}"
    );
    assert!(discover.get("result").is_none(), "{discover}");

    w.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {"roots": {}, "elicitation": {}},
            "clientInfo": {"name": "claude-code", "version": "2.1.330"}
        }}),
    )
    .await;
    let init = w.recv().await;
    let result = &init["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18", "{init}");
    assert_eq!(
        result["capabilities"]["experimental"]["claude/channel"],
        json!({})
    );
    assert!(result["capabilities"]["tools"].is_object(), "{init}");
    assert_eq!(result["serverInfo"]["name"], "abg");
    let instructions = result["instructions"].as_str().expect("instructions");
    assert!(instructions.len() < 2048, "{} bytes", instructions.len());

    w.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    w.send(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        .await;
    let list = w.recv().await;
    let names: Vec<&str> = list["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["reply", "get_messages", "get_budget"]);

    // Dormant without a pair: a clear tool error, not a protocol error.
    w.send(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {
            "name": "reply", "arguments": {"text": "hi"},
            "_meta": {"claudecode/toolUseId": "toolu_1"}
        }}),
    )
    .await;
    let call = w.recv().await;
    assert_eq!(call["result"]["isError"], true, "{call}");
    let text = call["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(text.contains("not launched by abg"), "{text}");

    w.send(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {
            "name": "reply", "arguments": {"text": 3}
        }}),
    )
    .await;
    let bad = w.recv().await;
    assert_eq!(bad["result"]["isError"], true, "{bad}");
    let text = bad["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(text.contains("must be a string"), "{text}");
}

#[tokio::test]
async fn initialize_without_discover_is_legacy_too() {
    let mut w = start();
    w.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-03-26", "capabilities": {},
            "clientInfo": {"name": "x", "version": "1"}
        }}),
    )
    .await;
    let init = w.recv().await;
    assert_eq!(init["result"]["protocolVersion"], "2025-03-26", "{init}");
}

#[tokio::test]
async fn the_plugin_copy_idles_when_abg_claude_chose_its_own_config() {
    use crate::claude::channel::Via;
    let opts = Options {
        via: Some(Via::Plugin),
        ..Options::default()
    };
    let mut w = start_with(Shared::start_as(opts, Some(Via::Generated), true));
    w.send(
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "claude-code", "version": "2.1.330"}
        }}),
    )
    .await;
    let init = w.recv().await;
    let instructions = init["result"]["instructions"].as_str().unwrap_or("");
    assert!(
        instructions.contains("<channel source=\"plugin:abg:abg\""),
        "{instructions}"
    );
    w.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    w.send(
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "reply", "arguments": {"text": "hi"}
        }}),
    )
    .await;
    let call = w.recv().await;
    assert_eq!(call["result"]["isError"], true, "{call}");
    let text = call["result"]["content"][0]["text"].as_str().unwrap_or("");
    assert!(
        text.contains("stays idle") && text.contains("mcp__abg__reply"),
        "{text}"
    );
    assert!(text.contains("Nothing was sent"), "{text}");
}
