//! A WebSocket client of the pair daemon's control plane for the Claude
//! side: open a session once the daemon proved it knows the pair secret
//! ([`crate::control::client::open_session`]), upgrade with it, say hello, then multiplex requests
//! (matched by id) and receive `deliver` frames. Used by `abg mcp` (role
//! `claude`), `abg hook` and `abg claude` (role `cli`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::protocol::{ClaudeAnswer, ClaudeRequest};
use crate::control::protocol::{
    ClientFrame, PROTOCOL_VERSION, PeerId, PeerMessage, Role, SendRequest, SendResult, ServerFrame,
};

/// Why a control call failed.
#[derive(Debug, Error)]
pub enum LinkError {
    #[error("the pair's daemon is not reachable on 127.0.0.1:{port} ({detail})")]
    Connect { port: u16, detail: String },
    #[error(transparent)]
    Session(#[from] crate::control::client::ClientError),
    #[error("the connection to the pair's daemon closed")]
    Closed,
    #[error("the pair's daemon did not answer within {0:?}")]
    Timeout(Duration),
    #[error("the daemon refused the request ({code}): {message}")]
    Refused { code: String, message: String },
    #[error("unexpected answer from the daemon: {0}")]
    Unexpected(String),
}

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<ServerFrame>>>>;

/// A live, authenticated connection; cheap to clone.
#[derive(Clone)]
pub struct ControlLink {
    out: mpsc::UnboundedSender<String>,
    waiters: Waiters,
    next: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
    /// `push` frames (the adapter's own unasked JSON), until taken.
    pushes: Arc<Mutex<Option<mpsc::UnboundedReceiver<serde_json::Value>>>>,
}

fn lock(w: &Waiters) -> std::sync::MutexGuard<'_, HashMap<u64, oneshot::Sender<ServerFrame>>> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

impl ControlLink {
    /// Connect to the daemon on `port`, say hello as `role`. `deliver` frames
    /// go to the returned receiver (closed when the connection ends).
    pub async fn connect(
        port: u16,
        secret: &str,
        role: Role,
    ) -> Result<(Self, mpsc::UnboundedReceiver<PeerMessage>), LinkError> {
        let err = |detail: String| LinkError::Connect { port, detail };
        let session = crate::control::client::open_session(
            &crate::control::client::http_client(),
            port,
            secret,
        )
        .await?;
        let mut req = format!("ws://127.0.0.1:{port}/v1/ws")
            .into_client_request()
            .map_err(|e| err(e.to_string()))?;
        let auth = HeaderValue::from_str(&session).map_err(|e| err(e.to_string()))?;
        req.headers_mut().insert("authorization", auth);
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(3),
            // Nagle would hold a small frame behind a delayed ACK (~40 ms).
            tokio_tungstenite::connect_async_with_config(req, None, true),
        )
        .await
        .map_err(|_| err("timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();
        let hello = ClientFrame::Hello {
            protocol: PROTOCOL_VERSION,
            version: crate::version().to_string(),
            role,
        };
        let text = serde_json::to_string(&hello).map_err(|e| err(e.to_string()))?;
        sink.send(Message::Text(text.into()))
            .await
            .map_err(|e| err(e.to_string()))?;
        let welcome = tokio::time::timeout(Duration::from_secs(3), stream.next())
            .await
            .map_err(|_| err("no welcome".into()))?;
        match welcome {
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<ServerFrame>(t.as_str()) {
                Ok(ServerFrame::Welcome { .. }) => {}
                Ok(ServerFrame::Error { message, .. }) => return Err(err(message)),
                _ => return Err(err(format!("unexpected first frame {t}"))),
            },
            other => return Err(err(format!("no welcome ({other:?})"))),
        }
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (deliver_tx, deliver_rx) = mpsc::unbounded_channel();
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        let waiters: Waiters = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(async move {
            while let Some(text) = out_rx.recv().await {
                if sink.send(Message::Text(text.into())).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let (w, c) = (Arc::clone(&waiters), Arc::clone(&closed));
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                let Message::Text(t) = msg else {
                    if matches!(msg, Message::Close(_)) {
                        break;
                    }
                    continue;
                };
                let Ok(frame) = serde_json::from_str::<ServerFrame>(t.as_str()) else {
                    tracing::warn!("unreadable frame from the daemon: {t}");
                    continue;
                };
                if let ServerFrame::Deliver { message } = frame {
                    let _ = deliver_tx.send(*message);
                    continue;
                }
                if let ServerFrame::Push { push } = frame {
                    let _ = push_tx.send(push);
                    continue;
                }
                if let Some(id) = frame_id(&frame)
                    && let Some(tx) = lock(&w).remove(&id)
                {
                    let _ = tx.send(frame);
                }
            }
            c.store(true, Ordering::SeqCst);
            lock(&w).clear();
        });
        Ok((
            Self {
                out,
                waiters,
                next: Arc::new(AtomicU64::new(1)),
                closed,
                pushes: Arc::new(Mutex::new(Some(push_rx))),
            },
            deliver_rx,
        ))
    }

    /// The connection's `push` frames (once; `None` after the first call).
    pub fn take_pushes(&self) -> Option<mpsc::UnboundedReceiver<serde_json::Value>> {
        self.pushes.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Whether the connection has ended.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst) || self.out.is_closed()
    }

    async fn request(
        &self,
        build: impl FnOnce(u64) -> ClientFrame,
        timeout: Duration,
    ) -> Result<ServerFrame, LinkError> {
        if self.is_closed() {
            return Err(LinkError::Closed);
        }
        let id = self.next.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = oneshot::channel();
        lock(&self.waiters).insert(id, tx);
        let text =
            serde_json::to_string(&build(id)).map_err(|e| LinkError::Unexpected(e.to_string()))?;
        if self.out.send(text).is_err() {
            lock(&self.waiters).remove(&id);
            return Err(LinkError::Closed);
        }
        let frame = tokio::time::timeout(timeout, rx).await;
        lock(&self.waiters).remove(&id);
        match frame {
            Err(_) => Err(LinkError::Timeout(timeout)),
            Ok(Err(_)) => Err(LinkError::Closed),
            Ok(Ok(ServerFrame::Error { code, message, .. })) => Err(LinkError::Refused {
                code: serde_json::to_value(code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default(),
                message,
            }),
            Ok(Ok(f)) => Ok(f),
        }
    }

    /// A request of `peer`'s side, in that peer's own JSON, answered by
    /// the daemon's adapter of that peer.
    pub async fn peer(
        &self,
        peer: PeerId,
        request: serde_json::Value,
        timeout: Duration,
    ) -> Result<serde_json::Value, LinkError> {
        let build = |id| ClientFrame::Peer { id, peer, request };
        match self.request(build, timeout).await? {
            ServerFrame::Peer { answer, .. } => Ok(answer),
            other => Err(LinkError::Unexpected(format!("{other:?}"))),
        }
    }

    /// A Claude-side request, answered by the daemon's Claude peer.
    pub async fn claude(
        &self,
        request: ClaudeRequest,
        timeout: Duration,
    ) -> Result<ClaudeAnswer, LinkError> {
        let request =
            serde_json::to_value(request).map_err(|e| LinkError::Unexpected(e.to_string()))?;
        let answer = self.peer(crate::claude::PEER, request, timeout).await?;
        serde_json::from_value(answer)
            .map_err(|e| LinkError::Unexpected(format!("not a Claude answer: {e}")))
    }

    /// Store a message for delivery; `wait_ms` asks the daemon to wait that
    /// long for the delivery outcome.
    pub async fn send(
        &self,
        message: SendRequest,
        wait_ms: u64,
        timeout: Duration,
    ) -> Result<SendResult, LinkError> {
        let build = |id| ClientFrame::Send {
            id,
            message,
            wait_ms: (wait_ms > 0).then_some(wait_ms),
        };
        match self
            .request(build, timeout + Duration::from_millis(wait_ms))
            .await?
        {
            ServerFrame::Sent { result, .. } => Ok(result),
            other => Err(LinkError::Unexpected(format!("{other:?}"))),
        }
    }
}

fn frame_id(f: &ServerFrame) -> Option<u64> {
    match f {
        ServerFrame::Status { id, .. }
        | ServerFrame::Sent { id, .. }
        | ServerFrame::Pong { id }
        | ServerFrame::Peer { id, .. } => Some(*id),
        ServerFrame::Error { id, .. } => *id,
        _ => None,
    }
}
