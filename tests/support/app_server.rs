//! A minimal WebSocket JSON-RPC client for `codex app-server --listen ws://…`.
//!
//! Why it exists: the Codex scenarios attach a second client to the same
//! app-server the TUI uses (the topology abg's daemon will have), and assert
//! on the notifications it receives and on the turns it starts. Every
//! message received is kept, so tests wait for a notification from a mark,
//! and failure reports list what actually arrived. Server requests
//! (approvals) are recorded and never answered: the first answer wins.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::recorder::clip;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A connected client. Dropping it closes the connection.
pub struct AppServerClient {
    sink: tokio::sync::Mutex<futures_util::stream::SplitSink<Ws, Message>>,
    inbox: Arc<Mutex<Vec<Value>>>,
    count: Arc<watch::Sender<usize>>,
    next_id: AtomicI64,
    reader: tokio::task::JoinHandle<()>,
}

impl Drop for AppServerClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn ws_request(
    port: u16,
    token: Option<&str>,
) -> Result<tokio_tungstenite::tungstenite::handshake::client::Request> {
    let mut req = format!("ws://127.0.0.1:{port}/").into_client_request()?;
    if let Some(token) = token {
        req.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}"))?,
        );
    }
    Ok(req)
}

/// The HTTP status of a WebSocket upgrade attempt (101 on success).
pub async fn upgrade_status(port: u16, token: Option<&str>) -> Result<u16> {
    match tokio_tungstenite::connect_async(ws_request(port, token)?).await {
        Ok((_ws, resp)) => Ok(resp.status().as_u16()),
        Err(WsError::Http(resp)) => Ok(resp.status().as_u16()),
        Err(e) => Err(anyhow!("websocket upgrade to 127.0.0.1:{port} failed: {e}")),
    }
}

impl AppServerClient {
    /// Connects with `Authorization: Bearer <token>` when given.
    pub async fn connect(port: u16, token: Option<&str>) -> Result<Self> {
        let (ws, _) = tokio_tungstenite::connect_async(ws_request(port, token)?)
            .await
            .with_context(|| format!("connecting to the app-server at ws://127.0.0.1:{port}"))?;
        let (sink, mut stream) = ws.split();
        let inbox: Arc<Mutex<Vec<Value>>> = Arc::default();
        let count = Arc::new(watch::channel(0usize).0);
        let reader = {
            let (inbox, count) = (inbox.clone(), count.clone());
            tokio::spawn(async move {
                while let Some(Ok(msg)) = stream.next().await {
                    let text = match msg {
                        Message::Text(t) => t.to_string(),
                        Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                        Message::Close(_) => break,
                        _ => continue,
                    };
                    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    let n = {
                        let mut i = inbox.lock().unwrap_or_else(|p| p.into_inner());
                        i.push(v);
                        i.len()
                    };
                    count.send_replace(n);
                }
            })
        };
        Ok(Self {
            sink: tokio::sync::Mutex::new(sink),
            inbox,
            count,
            next_id: AtomicI64::new(1),
            reader,
        })
    }

    /// `initialize` (experimental API on) then `initialized`.
    pub async fn initialize(&self, client_name: &str) -> Result<Value> {
        let result = self
            .request(
                "initialize",
                json!({
                    "clientInfo": {"name": client_name, "title": "abg e2e", "version": "0.0.0"},
                    "capabilities": {"experimentalApi": true}
                }),
                super::WAIT,
            )
            .await?;
        self.notify("initialized", Value::Null).await?;
        Ok(result)
    }

    /// Sends a request and waits for its result; a JSON-RPC error is an `Err`.
    pub async fn request(&self, method: &str, params: Value, timeout: Duration) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let mark = self.mark();
        self.send(json!({"id": id, "method": method, "params": params}))
            .await?;
        let reply = self
            .wait_since(
                mark,
                &format!("the reply to {method} (id {id})"),
                timeout,
                |m| m["id"] == json!(id) && m.get("method").is_none(),
            )
            .await?;
        if let Some(err) = reply.get("error") {
            bail!("{method} failed: {err}");
        }
        Ok(reply["result"].clone())
    }

    pub async fn notify(&self, method: &str, params: Value) -> Result<()> {
        let msg = if params.is_null() {
            json!({"method": method})
        } else {
            json!({"method": method, "params": params})
        };
        self.send(msg).await
    }

    async fn send(&self, v: Value) -> Result<()> {
        self.sink
            .lock()
            .await
            .send(Message::Text(v.to_string().into()))
            .await
            .context("sending to the app-server")
    }

    /// The number of messages received so far (a mark for `wait_*`).
    pub fn mark(&self) -> usize {
        *self.count.borrow()
    }

    pub fn messages(&self) -> Vec<Value> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits for a message at position `since` or later matching `pred`.
    pub async fn wait_since(
        &self,
        since: usize,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.count.subscribe();
        loop {
            rx.borrow_and_update();
            if let Some(hit) = self.messages().into_iter().skip(since).find(|m| pred(m)) {
                return Ok(hit);
            }
            if self.reader.is_finished() {
                bail!("app-server connection closed while waiting for {what}");
            }
            let wait = tokio::time::timeout_at(deadline, rx.changed()).await;
            if wait.is_err() {
                bail!(
                    "timed out after {timeout:?} waiting for {what}; app-server messages:\n{}",
                    self.summary(30)
                );
            }
            if wait.is_ok_and(|r| r.is_err()) {
                bail!("app-server connection closed while waiting for {what}");
            }
        }
    }

    /// Waits for a notification `method` (at `since` or later) whose params
    /// satisfy `pred`; returns its params.
    pub async fn wait_notification(
        &self,
        since: usize,
        method: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let what = format!("notification {method}");
        let m = self
            .wait_since(since, &what, timeout, |m| {
                m["method"] == method && m.get("id").is_none() && pred(&m["params"])
            })
            .await?;
        Ok(m["params"].clone())
    }

    /// The last `n` messages, one short line each.
    pub fn summary(&self, n: usize) -> String {
        summarize(&self.messages(), n)
    }

    /// A closure rendering the message log, for [`super::diag::Diagnostics`].
    pub fn log_source(&self) -> impl Fn() -> String + Send + Sync + 'static {
        let inbox = self.inbox.clone();
        move || summarize(&inbox.lock().unwrap_or_else(|p| p.into_inner()), 40)
    }
}

fn summarize(msgs: &[Value], n: usize) -> String {
    if msgs.is_empty() {
        return "  (none)".into();
    }
    let skip = msgs.len().saturating_sub(n);
    msgs.iter()
        .enumerate()
        .skip(skip)
        .map(|(i, m)| format!("  #{i} {}", clip(&m.to_string(), 200)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The text of a `userMessage` thread item (its `text` inputs joined).
pub fn user_message_text(item: &Value) -> String {
    item["content"]
        .as_array()
        .map(|c| {
            c.iter()
                .filter_map(|i| i["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

/// A `codex app-server --listen ws://127.0.0.1:P` with a capability token,
/// started in the scenario's workdir with the seeded `CODEX_HOME`.
pub struct AppServerProc {
    pub child: super::procs::ChildProc,
    pub port: u16,
    pub token: String,
}

impl AppServerProc {
    /// Starts it (token file 0600) and waits until `/readyz` answers 200.
    pub async fn start(s: &super::scenario::Scenario) -> Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let codex = s.clis.codex()?;
        let port = super::procs::free_port()?;
        let token = format!(
            "abg-e2e-{:016x}{:016x}",
            rand::random::<u64>(),
            rand::random::<u64>()
        );
        let token_file = s.env.root.join("codex-ws.token");
        {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&token_file)?;
            writeln!(f, "{token}")?;
        }
        let listen = format!("ws://127.0.0.1:{port}");
        let token_path = token_file.to_string_lossy();
        let mut child = s.spawn(
            "app-server",
            codex,
            &[
                "app-server",
                "--listen",
                &listen,
                "--ws-auth",
                "capability-token",
                "--ws-token-file",
                &token_path,
            ],
            &s.env.codex_env(),
        )?;
        super::procs::wait_http_ok(port, "/readyz", &mut child, super::WAIT)
            .await
            .map_err(|e| s.diag.with_report(format!("{e:#}")))?;
        Ok(Self { child, port, token })
    }

    /// `ws://127.0.0.1:P`, for `codex --remote`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// A new authenticated client.
    pub async fn client(&self) -> Result<AppServerClient> {
        AppServerClient::connect(self.port, Some(&self.token)).await
    }
}
