//! The two ends the hop figures time: a direct app-server client (the
//! baseline: what Codex's own TUI or any second client sees) and an
//! `abg mcp` child driven on its stdio exactly as Claude Code drives it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

/// How long any single wait in a hop run may take before the run fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// A frame received, with the instant it was read.
pub type Stamped = (Instant, Value);

/// Frames arriving on a channel, consumed in order.
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Stamped>,
}

impl Inbox {
    /// The next frame matching `pred` (earlier non-matching frames dropped).
    pub async fn wait(&mut self, pred: impl Fn(&Value) -> bool) -> anyhow::Result<Stamped> {
        let end = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(end, self.rx.recv()).await {
                Err(_) => bail!("timed out after {WAIT:?}"),
                Ok(None) => bail!("connection closed"),
                Ok(Some((at, v))) if pred(&v) => return Ok((at, v)),
                Ok(Some(_)) => {}
            }
        }
    }
}

/// A direct WebSocket JSON-RPC client of an app-server.
pub struct DirectClient {
    out: mpsc::UnboundedSender<String>,
    pub inbox: Inbox,
    next: u64,
}

impl DirectClient {
    pub async fn connect(port: u16, token: Option<&str>) -> anyhow::Result<Self> {
        let mut req = format!("ws://127.0.0.1:{port}/").into_client_request()?;
        if let Some(t) = token {
            req.headers_mut().insert(
                "authorization",
                HeaderValue::from_str(&format!("Bearer {t}"))?,
            );
        }
        let (ws, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
        let (mut sink, mut stream) = ws.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (in_tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(t) = out_rx.recv().await {
                if sink.send(Message::Text(t.into())).await.is_err() {
                    break;
                }
            }
        });
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(t) = msg else { continue };
                let at = Instant::now();
                if let Ok(v) = serde_json::from_str::<Value>(t.as_str()) {
                    let _ = in_tx.send((at, v));
                }
            }
        });
        let mut client = Self {
            out,
            inbox: Inbox { rx },
            next: 1,
        };
        client
            .request(
                "initialize",
                json!({"clientInfo": {"name": "bench-direct", "title": "bench", "version": "0"},
                       "capabilities": {"experimentalApi": true}}),
            )
            .await?;
        client.send(&json!({"method": "initialized"}))?;
        Ok(client)
    }

    /// Queue one frame; returns the instant just before it was queued.
    pub fn send(&self, v: &Value) -> anyhow::Result<Instant> {
        let text = v.to_string();
        let at = Instant::now();
        self.out
            .send(text)
            .map_err(|_| anyhow!("direct client closed"))?;
        Ok(at)
    }

    /// Send a request without waiting; returns its id and the send instant.
    pub fn request_nowait(
        &mut self,
        method: &str,
        params: Value,
    ) -> anyhow::Result<(u64, Instant)> {
        let id = self.next;
        self.next += 1;
        let at = self.send(&json!({"id": id, "method": method, "params": params}))?;
        Ok((id, at))
    }

    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let (id, _) = self.request_nowait(method, params)?;
        let (_, v) = self
            .inbox
            .wait(|v| v["id"] == json!(id) && v.get("method").is_none())
            .await
            .with_context(|| format!("waiting for the answer to {method}"))?;
        if let Some(e) = v.get("error") {
            bail!("{method} failed: {e}");
        }
        Ok(v["result"].clone())
    }
}

/// An `abg mcp` child, spoken to as Claude Code does.
pub struct McpChild {
    /// Killed when dropped.
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    pub inbox: Inbox,
    next: u64,
}

impl McpChild {
    /// Start `abg mcp` with `env` (as `abg claude` would launch it) and
    /// complete the MCP handshake.
    pub async fn start(
        abg: &str,
        cwd: &std::path::Path,
        env: &[(String, String)],
    ) -> anyhow::Result<Self> {
        let mut child = tokio::process::Command::new(abg)
            .arg("mcp")
            .current_dir(cwd)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("ABG_PROJECT_ROOT", cwd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start abg mcp")?;
        let stdin = child.stdin.take().context("abg mcp stdin")?;
        let stdout = child.stdout.take().context("abg mcp stdout")?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let at = Instant::now();
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    let _ = tx.send((at, v));
                }
            }
        });
        let mut me = Self {
            _child: child,
            stdin,
            inbox: Inbox { rx },
            next: 1,
        };
        me.request(
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "claude-code", "version": "bench"}}),
        )
        .await?;
        me.write(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await?;
        Ok(me)
    }

    /// Write one line; returns the instant just before the write.
    pub async fn write(&mut self, v: &Value) -> anyhow::Result<Instant> {
        let mut line = v.to_string();
        line.push('\n');
        let at = Instant::now();
        self.stdin.write_all(line.as_bytes()).await?;
        self.stdin.flush().await?;
        Ok(at)
    }

    /// Send a request; returns its id and the write instant.
    pub async fn request_nowait(
        &mut self,
        method: &str,
        params: Value,
    ) -> anyhow::Result<(u64, Instant)> {
        let id = self.next;
        self.next += 1;
        let at = self
            .write(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
            .await?;
        Ok((id, at))
    }

    pub async fn request(&mut self, method: &str, params: Value) -> anyhow::Result<Value> {
        let (id, _) = self.request_nowait(method, params).await?;
        let (_, v) = self
            .inbox
            .wait(|v| v["id"] == json!(id) && v.get("method").is_none())
            .await
            .with_context(|| format!("waiting for abg mcp's answer to {method}"))?;
        Ok(v)
    }

    /// Claude calling the `reply` tool; returns the request id and write instant.
    pub async fn reply(&mut self, text: &str, tool_use_id: &str) -> anyhow::Result<(u64, Instant)> {
        self.request_nowait(
            "tools/call",
            json!({"name": "reply", "arguments": {"text": text},
                   "_meta": {"claudecode/toolUseId": tool_use_id}}),
        )
        .await
    }
}

/// Whether `v` is a channel notification carrying exactly `text`.
pub fn is_channel_push(v: &Value, text: &str) -> bool {
    v["method"] == "notifications/claude/channel" && v["params"]["content"] == text
}
