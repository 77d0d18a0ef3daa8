//! A fake `codex app-server` for the in-process hop figures: `GET /readyz`
//! and the JSON-RPC WebSocket on one port, answering just what abg's Codex
//! link asks (initialize, rate limits, loaded threads, thread read/resume,
//! turn/start), with one idle thread. The bench makes it emit
//! `item/completed` frames to every connection at once and learns when a
//! `turn/start` arrives. Instant fake: its own cost is the same for abg's
//! link and for the direct client it is compared with.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use axum::routing::get;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// The one thread the fake serves (the "TUI's" thread).
pub const THREAD: &str = "th_bench";

/// A `turn/start` as the fake received it.
#[derive(Debug, Clone)]
pub struct TurnStart {
    pub at: Instant,
    pub client: String,
    pub text: String,
}

#[derive(Default)]
struct Inner {
    /// (client name from `initialize`, outbound frames).
    conns: Vec<(Arc<Mutex<String>>, mpsc::UnboundedSender<String>)>,
    turns: u64,
    /// Methods received, by client, in order (setup checks).
    seen: Vec<(String, String)>,
}

#[derive(Clone)]
pub struct FakeAppServer {
    inner: Arc<Mutex<Inner>>,
    starts: mpsc::UnboundedSender<TurnStart>,
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub fn thread_json() -> Value {
    json!({
        "id": THREAD, "preview": "bench", "ephemeral": false,
        "path": "/tmp/abg-bench/rollout-th_bench.jsonl", "cwd": "/tmp",
        "source": "cli", "status": {"type": "idle"},
        "updatedAt": 1, "createdAt": 1, "turns": []
    })
}

impl FakeAppServer {
    /// Serve on a listening socket the caller bound (and may share with a
    /// stand-in process); `turn/start`s arrive on the receiver.
    pub fn start_on(listener: std::net::TcpListener) -> (Self, mpsc::UnboundedReceiver<TurnStart>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let fake = Self {
            inner: Arc::default(),
            starts: tx,
        };
        let app = Router::new()
            .route("/readyz", get(|| async { "ok" }))
            .route("/", get(upgrade))
            .with_state(fake.clone());
        listener
            .set_nonblocking(true)
            .expect("bench: cannot make the fake app-server socket non-blocking");
        let listener = tokio::net::TcpListener::from_std(listener)
            .expect("bench: cannot register the fake app-server socket");
        // Like the daemon's listener: no Nagle delay on small frames.
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (fake, rx)
    }

    /// Whether a client named `name` sent `method`.
    pub fn saw(&self, name: &str, method: &str) -> bool {
        lock(&self.inner)
            .seen
            .iter()
            .any(|(n, m)| n == name && m == method)
    }

    /// Send an `agentMessage` `item/completed` to every connection; returns
    /// the instant just before the frames were queued.
    pub fn emit_item(&self, item_id: &str, text: &str) -> Instant {
        let frame = json!({
            "method": "item/completed",
            "params": {"threadId": THREAD, "turnId": "turn_bench",
                       "item": {"type": "agentMessage", "id": item_id, "text": text}}
        })
        .to_string();
        let inner = lock(&self.inner);
        let at = Instant::now();
        for (_, tx) in &inner.conns {
            let _ = tx.send(frame.clone());
        }
        at
    }
}

async fn upgrade(State(fake): State<FakeAppServer>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve(fake, socket))
}

async fn serve(fake: FakeAppServer, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let name = Arc::new(Mutex::new(String::from("?")));
    lock(&fake.inner)
        .conns
        .push((Arc::clone(&name), tx.clone()));
    tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(msg)) = stream.next().await {
        let Message::Text(text) = msg else { continue };
        let at = Instant::now();
        let Ok(v) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let method = v["method"].as_str().unwrap_or_default().to_string();
        if method == "initialize" {
            let n = v["params"]["clientInfo"]["name"].as_str().unwrap_or("?");
            *name.lock().unwrap_or_else(|p| p.into_inner()) = n.to_string();
        }
        let who = name.lock().unwrap_or_else(|p| p.into_inner()).clone();
        lock(&fake.inner).seen.push((who.clone(), method.clone()));
        let Some(id) = v.get("id").cloned() else {
            continue; // a notification (`initialized`)
        };
        let params = &v["params"];
        let result = match method.as_str() {
            "initialize" => {
                json!({"userAgent": "codex_cli_rs/0.169.0 (abg bench fake)", "codexHome": "/tmp"})
            }
            "thread/loaded/list" => json!({"data": [THREAD]}),
            "thread/read" | "thread/resume" => json!({"thread": thread_json()}),
            "turn/start" => {
                let thread_id = params["threadId"].as_str().unwrap_or_default().to_string();
                let text = params["input"][0]["text"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let turn_id = {
                    let mut inner = lock(&fake.inner);
                    inner.turns += 1;
                    format!("turn_{}", inner.turns)
                };
                let _ = fake.starts.send(TurnStart {
                    at,
                    client: who.clone(),
                    text,
                });
                let turn = json!({"id": turn_id, "status": "inProgress", "items": []});
                let _ = tx.send(json!({"id": id, "result": {"turn": turn}}).to_string());
                // The turn runs and ends at once: Codex is idle again.
                let done = json!({"id": turn_id, "status": "completed", "items": []});
                let _ = tx.send(
                    json!({"method": "turn/started", "params": {"threadId": thread_id, "turn": turn}})
                        .to_string(),
                );
                let _ = tx.send(
                    json!({"method": "turn/completed", "params": {"threadId": thread_id, "turn": done}})
                        .to_string(),
                );
                continue;
            }
            _ => json!({}),
        };
        let _ = tx.send(json!({"id": id, "result": result}).to_string());
    }
}
