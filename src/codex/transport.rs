//! A WebSocket JSON-RPC client for `codex app-server --listen ws://…`.
//!
//! Why it exists: the daemon talks to the same app-server the human's TUI
//! uses. This module only moves frames: it authenticates the upgrade with
//! `Authorization: Bearer <token>` (and no `Origin`, which the server
//! refuses), correlates responses with requests by id, and hands every
//! notification to one channel that is read promptly (a slow reader gets the
//! connection dropped by the server). Server requests (approvals, user
//! input) go to the link, which records them for the approvals inbox;
//! nothing here answers them: the first answer wins, and it belongs to a
//! person (in the TUI, or through `abg approve`/`abg deny`, sent with a
//! [`Responder`]).

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::de::DeserializeOwned;
use serde_json::Value;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use super::protocol::methods::{ClientNotification, ClientRequest};
use super::protocol::{Incoming, OutgoingRequest, RpcError, parse_incoming};

/// Transport failures.
#[derive(Debug, Error)]
pub enum TransportError {
    #[error("cannot connect to the Codex app-server at {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("the Codex app-server connection is closed")]
    Closed,
    #[error("the Codex app-server did not answer {method} within {timeout:?}")]
    Timeout { method: String, timeout: Duration },
    #[error("{method} failed: {error}")]
    Rpc { method: String, error: RpcError },
    #[error("unexpected {method} answer: {detail}")]
    Decode { method: String, detail: String },
}

impl TransportError {
    /// The server's error, when the request was answered with one.
    pub fn rpc(&self) -> Option<&RpcError> {
        match self {
            TransportError::Rpc { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What the reader hands to the session.
#[derive(Debug, Clone, PartialEq)]
pub enum Inbound {
    Notification {
        method: String,
        params: Value,
    },
    /// A request of the server (an approval): answered only through a
    /// [`Responder`], and only on a person's verdict.
    ServerRequest {
        id: Value,
        method: String,
        params: Value,
    },
    /// The connection ended (the channel closes right after).
    Closed {
        reason: String,
    },
}

type Pending = Arc<Mutex<HashMap<i64, oneshot::Sender<Result<Value, RpcError>>>>>;

/// A live connection. Cheap to share behind an `Arc`; dropping the last
/// handle closes it. Requests go through its [`Requester`] (`Deref`).
pub struct Connection {
    requester: Requester,
    reader: tokio::task::JoinHandle<()>,
    writer: tokio::task::JoinHandle<()>,
}

/// The request-sending side of a [`Connection`], owned and cloneable: a
/// task can make requests without borrowing the connection (the Codex link
/// runs its periodic thread discovery on one, so notifications keep flowing
/// while Codex takes its time to answer). Requests fail with
/// [`TransportError::Closed`] once the connection is gone.
#[derive(Clone)]
pub struct Requester {
    out: mpsc::UnboundedSender<Message>,
    pending: Pending,
    next_id: Arc<AtomicI64>,
}

impl std::ops::Deref for Connection {
    type Target = Requester;

    fn deref(&self) -> &Requester {
        &self.requester
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
        self.writer.abort();
    }
}

impl Connection {
    /// Connect to `url` (`ws://127.0.0.1:P`) with the bearer `token`.
    pub async fn connect(
        url: &str,
        token: &str,
    ) -> Result<(Self, mpsc::UnboundedReceiver<Inbound>), TransportError> {
        let connect_err = |detail: String| TransportError::Connect {
            url: url.to_string(),
            detail,
        };
        let mut req = url
            .into_client_request()
            .map_err(|e| connect_err(e.to_string()))?;
        let auth = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| connect_err(e.to_string()))?;
        req.headers_mut().insert("authorization", auth);
        let (ws, _) = tokio::time::timeout(
            Duration::from_secs(5),
            // Nagle would hold a small frame behind a delayed ACK (~40 ms).
            tokio_tungstenite::connect_async_with_config(req, None, true),
        )
        .await
        .map_err(|_| connect_err("timed out".into()))?
        .map_err(|e| connect_err(e.to_string()))?;
        let (mut sink, mut stream) = ws.split();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let pending: Pending = Arc::default();
        let writer = tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                if sink.send(msg).await.is_err() {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        let reader_pending = Arc::clone(&pending);
        let pong_tx = out_tx.clone();
        let reader = tokio::spawn(async move {
            let reason = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => {
                        dispatch(text.as_str(), &reader_pending, &in_tx);
                    }
                    Some(Ok(Message::Ping(p))) => {
                        let _ = pong_tx.send(Message::Pong(p));
                    }
                    Some(Ok(Message::Close(frame))) => {
                        break format!("closed by the server ({frame:?})");
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break e.to_string(),
                    None => break "connection ended".to_string(),
                }
            };
            // Fail every request still waiting.
            if let Ok(mut p) = reader_pending.lock() {
                p.clear();
            }
            let _ = in_tx.send(Inbound::Closed { reason });
        });
        Ok((
            Self {
                requester: Requester {
                    out: out_tx,
                    pending,
                    next_id: Arc::new(AtomicI64::new(1)),
                },
                reader,
                writer,
            },
            in_rx,
        ))
    }

    /// An owned handle for making requests on this connection.
    pub fn requester(&self) -> Requester {
        self.requester.clone()
    }
}

impl Requester {
    /// Send request `M` and wait up to `timeout` for its answer.
    pub async fn request<M: ClientRequest>(
        &self,
        params: M::Params,
        timeout: Duration,
    ) -> Result<M::Result, TransportError> {
        self.send_request::<M>(params)?.wait(timeout).await
    }

    /// Queue request `M` for the writer and return the handle its answer
    /// comes to: the caller can do other work (the delivery worker records
    /// its crash marker) while the frame is on the wire.
    pub fn send_request<M: ClientRequest>(
        &self,
        params: M::Params,
    ) -> Result<Reply<M::Result>, TransportError> {
        let method = M::METHOD;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let text = serde_json::to_string(&OutgoingRequest { id, method, params }).map_err(|e| {
            TransportError::Decode {
                method: method.to_string(),
                detail: e.to_string(),
            }
        })?;
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| TransportError::Closed)?
            .insert(id, tx);
        let reply = Reply {
            id,
            method,
            rx,
            pending: Arc::clone(&self.pending),
            result: PhantomData,
        };
        if self.out.send(Message::Text(text.into())).is_err() {
            reply.forget();
            return Err(TransportError::Closed);
        }
        Ok(reply)
    }

    /// Send notification `N` (e.g. `initialized`).
    /// A handle that answers the server's requests on this connection.
    pub fn responder(&self) -> Responder {
        Responder {
            out: self.out.clone(),
        }
    }

    pub fn notify<N: ClientNotification>(&self) -> Result<(), TransportError> {
        let text = serde_json::json!({ "method": N::METHOD }).to_string();
        self.out
            .send(Message::Text(text.into()))
            .map_err(|_| TransportError::Closed)
    }
}

/// The answer to come for one request sent with [`Requester::send_request`],
/// decoded as `R` (the request's `Result`).
pub struct Reply<R> {
    id: i64,
    method: &'static str,
    rx: oneshot::Receiver<Result<Value, RpcError>>,
    pending: Pending,
    result: PhantomData<fn() -> R>,
}

impl<R: DeserializeOwned> Reply<R> {
    /// Wait up to `timeout` for the answer.
    pub async fn wait(self, timeout: Duration) -> Result<R, TransportError> {
        let Reply {
            id,
            method,
            rx,
            pending,
            ..
        } = self;
        let value = match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Ok(v))) => v,
            Ok(Ok(Err(error))) => {
                return Err(TransportError::Rpc {
                    method: method.to_string(),
                    error,
                });
            }
            Ok(Err(_)) => return Err(TransportError::Closed),
            Err(_) => {
                forget(&pending, id);
                return Err(TransportError::Timeout {
                    method: method.to_string(),
                    timeout,
                });
            }
        };
        serde_json::from_value(value).map_err(|e| TransportError::Decode {
            method: method.to_string(),
            detail: e.to_string(),
        })
    }

    fn forget(&self) {
        forget(&self.pending, self.id);
    }
}

/// Answers the server's requests on one connection (see
/// [`Connection::responder`]); it fails once the connection is gone.
#[derive(Clone)]
pub struct Responder {
    out: mpsc::UnboundedSender<Message>,
}

impl Responder {
    /// Send `result` as the answer to the server's request `id`.
    pub fn respond(&self, id: &Value, result: Value) -> Result<(), TransportError> {
        let text = serde_json::json!({ "id": id, "result": result }).to_string();
        self.out
            .send(Message::Text(text.into()))
            .map_err(|_| TransportError::Closed)
    }
}

fn forget(pending: &Pending, id: i64) {
    if let Ok(mut p) = pending.lock() {
        p.remove(&id);
    }
}

fn dispatch(text: &str, pending: &Pending, in_tx: &mpsc::UnboundedSender<Inbound>) {
    match parse_incoming(text) {
        Some(Incoming::Response { id, result }) => {
            let waiter = id
                .as_i64()
                .and_then(|id| pending.lock().ok().and_then(|mut p| p.remove(&id)));
            match waiter {
                Some(tx) => {
                    let _ = tx.send(result);
                }
                None => tracing::debug!(%id, "answer to no pending request"),
            }
        }
        Some(Incoming::Notification { method, params }) => {
            let _ = in_tx.send(Inbound::Notification { method, params });
        }
        Some(Incoming::ServerRequest { id, method, params }) => {
            // Approvals stay with the human: the link records them for the
            // inbox and never answers on its own, not even with an error.
            let _ = in_tx.send(Inbound::ServerRequest { id, method, params });
        }
        None => tracing::warn!("unparseable frame from the app-server"),
    }
}
