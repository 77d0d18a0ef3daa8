//! The control plane's axum server: routes, body parsing with clear errors,
//! and the WebSocket session loop. Everything the routes do is delegated to
//! the daemon's [`Core`] or, for a `peer` frame, to the peer it names; a
//! connection that says hello as a peer is handed that peer's push worker,
//! whose frames this loop writes beside its answers. This file only moves
//! frames and names no agent.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::errors::{self, core_error, error};
use super::guard::{self, Guard};
use futures_util::SinkExt;
use tokio::sync::mpsc;

use super::app::AppState;
use super::protocol::{Ack, ClientFrame, ErrorCode, PROTOCOL_VERSION, SendRequest, ServerFrame};
use crate::daemon::core::Core;
use crate::daemon::peer::Peers;

/// Build the router for `core` and its `peers`, guarded by `guard` (with
/// the web UI's gate of the `/ui` paths already set, see
/// [`Guard::with_gate`]), serving the control plane's own routes and the
/// `extra` ones the daemon process adds (the web UI's, the budget's).
pub fn router(core: Arc<Core>, peers: Peers, guard: Guard, extra: Router) -> Router {
    let guard = Arc::new(guard);
    let limit = errors::BodyLimit {
        max_frame_bytes: core.max_frame_bytes(),
        body_bytes: core.max_frame_bytes() + 4096,
    };
    let prover = Arc::clone(&guard);
    let routes = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            super::handshake::CHALLENGE_PATH,
            post(move |body: Bytes| async move { prover.challenge(&body) }),
        )
        .route("/v1/status", get(status))
        .route("/v1/messages", post(send).get(list))
        .route("/v1/shutdown", post(shutdown))
        .route("/v1/relay/resume", post(resume_relay))
        .route("/v1/approvals", get(super::approvals::list))
        .route("/v1/approvals/{id}", post(super::approvals::answer))
        .route("/v1/ws", get(ws))
        .with_state(AppState { core, peers })
        .merge(extra)
        .fallback(errors::not_found)
        .layer(DefaultBodyLimit::max(limit.body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            guard,
            guard::middleware,
        ));
    // `Router::layer` wraps each endpoint, inside axum's own answers (a 405
    // gets its `Allow` header outside it): the JSON rewriting wraps the
    // whole router instead.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(
            limit,
            errors::json_errors,
        ))
}

async fn status(State(s): State<AppState>) -> Response {
    axum::Json(s.core.status()).into_response()
}

/// `POST /v1/messages?wait_ms=N`: how long to wait for the outcome.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendQuery {
    #[serde(default)]
    wait_ms: u64,
}

async fn send(
    State(s): State<AppState>,
    q: Result<Query<SendQuery>, axum::extract::rejection::QueryRejection>,
    body: Bytes,
) -> Response {
    let Ok(Query(q)) = q else {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidArgument,
            "query must be empty or ?wait_ms=<milliseconds>".into(),
        );
    };
    let req: SendRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadFrame,
                format!("request body is not a valid send request: {e}"),
            );
        }
    };
    match s
        .core
        .send_and_wait(req, crate::daemon::send::wait_for(Some(q.wait_ms)))
        .await
    {
        Ok(r) => axum::Json(r).into_response(),
        Err(e) => core_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    after: i64,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

async fn list(
    State(s): State<AppState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match errors::page_query(q, "?after=<seq>&limit=<1..1000>", |q| q.limit) {
        Ok(q) => q,
        Err(answer) => return *answer,
    };
    match s.core.messages_after(q.after, q.limit) {
        Ok(page) => axum::Json(page).into_response(),
        Err(e) => core_error(e),
    }
}

async fn resume_relay(State(s): State<AppState>) -> Response {
    match crate::daemon::governor::resume(&s.core) {
        Ok(released) => {
            axum::Json(serde_json::json!({ "ok": true, "released": released })).into_response()
        }
        Err(e) => core_error(e),
    }
}

async fn shutdown(State(s): State<AppState>) -> Response {
    s.core
        .request_shutdown("shutdown requested over the control plane");
    axum::Json(Ack { ok: true }).into_response()
}

async fn ws(State(s): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    let cap = s.core.max_frame_bytes();
    upgrade
        .max_message_size(cap.saturating_mul(4))
        .max_frame_size(cap.saturating_mul(4))
        .on_upgrade(move |socket| session(s.core, s.peers, socket))
}

async fn send_frame(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => socket.send(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}

fn error_frame(id: Option<u64>, code: ErrorCode, message: impl Into<String>) -> ServerFrame {
    ServerFrame::Error {
        id,
        code,
        message: message.into(),
    }
}

/// Parse one text frame of a client, or describe why it is unusable (the
/// `Error` frame to answer). Public for the fuzz targets (`fuzz/`).
pub fn parse_frame(text: &str, cap: usize) -> Result<ClientFrame, Box<ServerFrame>> {
    if text.len() > cap {
        return Err(Box::new(error_frame(
            None,
            ErrorCode::TooLarge,
            format!("frame is {} bytes, over the limit of {cap}", text.len()),
        )));
    }
    serde_json::from_str(text).map_err(|e| {
        Box::new(error_frame(
            None,
            ErrorCode::BadFrame,
            format!("frame is not a valid control frame: {e}"),
        ))
    })
}

/// Answer a `peer` frame with the adapter of the peer it names, off the
/// async workers (hooks read transcripts).
async fn answer_peer(
    core: &Arc<Core>,
    peers: &Peers,
    id: u64,
    peer: crate::store::types::PeerId,
    request: serde_json::Value,
) -> ServerFrame {
    let Some(adapter) = peers.get(peer).map(Arc::clone) else {
        return error_frame(
            Some(id),
            ErrorCode::InvalidArgument,
            format!(
                "no peer {:?} in this pair; its peers are {}",
                peer.as_str(),
                core.peer_ids_text()
            ),
        );
    };
    let core = Arc::clone(core);
    match tokio::task::spawn_blocking(move || adapter.answer(&core, request)).await {
        Ok(Ok(answer)) => ServerFrame::Peer { id, answer },
        Ok(Err(e)) => error_frame(Some(id), e.status().1, e.to_string()),
        Err(e) => error_frame(
            Some(id),
            ErrorCode::Internal,
            format!("{} request failed: {e}", peer.as_str()),
        ),
    }
}

/// Frames a peer's push worker may queue ahead of the socket.
const PUSH_QUEUE: usize = 256;

async fn session(core: Arc<Core>, peers: Peers, mut socket: WebSocket) {
    let cap = core.max_frame_bytes();
    let mut attach = None;
    let mut hello = false;
    let mut shutdown = core.shutdown_signal();
    // A peer's pushes, once it said hello as a peer that pushes.
    let (push_tx, mut push_rx) = mpsc::channel::<ServerFrame>(PUSH_QUEUE);
    let mut push_tx = Some(push_tx);
    let mut worker: Option<tokio::task::JoinHandle<()>> = None;
    loop {
        let msg = tokio::select! {
            m = socket.recv() => m,
            Some(frame) = push_rx.recv(), if worker.is_some() => {
                // Write this push and every one already queued, then flush once.
                if !feed_frame(&mut socket, &frame).await {
                    break;
                }
                let mut ok = true;
                while let Ok(more) = push_rx.try_recv() {
                    if !feed_frame(&mut socket, &more).await {
                        ok = false;
                        break;
                    }
                }
                if !ok || socket.flush().await.is_err() {
                    break;
                }
                continue;
            }
            _ = shutdown.changed() => break,
        };
        let Some(Ok(msg)) = msg else { break };
        let text = match msg {
            Message::Text(t) => t,
            Message::Binary(_) => {
                let f = error_frame(
                    None,
                    ErrorCode::BadFrame,
                    "binary frames are not accepted; send JSON text",
                );
                if !send_frame(&mut socket, &f).await {
                    break;
                }
                continue;
            }
            Message::Close(_) => break,
            _ => continue,
        };
        let frame = match parse_frame(text.as_str(), cap) {
            Ok(f) => f,
            Err(f) => {
                if !send_frame(&mut socket, &f).await {
                    break;
                }
                continue;
            }
        };
        let mut start_worker = None;
        let reply = match frame {
            ClientFrame::Hello { protocol, role, .. } => {
                if protocol != PROTOCOL_VERSION {
                    let f = error_frame(
                        None,
                        ErrorCode::ProtocolMismatch,
                        format!(
                            "client speaks control protocol {protocol}, this daemon speaks {PROTOCOL_VERSION}; run `abg kill` and retry"
                        ),
                    );
                    let _ = send_frame(&mut socket, &f).await;
                    break;
                }
                if hello {
                    error_frame(
                        None,
                        ErrorCode::BadFrame,
                        "hello was already received on this connection",
                    )
                } else if let Some(peer) = role.peer()
                    && peers.get(peer).is_none()
                {
                    let f = error_frame(
                        None,
                        ErrorCode::InvalidArgument,
                        format!(
                            "no peer {:?} in this pair; its peers are {}",
                            peer.as_str(),
                            core.peer_ids_text()
                        ),
                    );
                    let _ = send_frame(&mut socket, &f).await;
                    break;
                } else {
                    hello = true;
                    if let Some(peer) = role.peer() {
                        attach = Some(core.attach(role));
                        start_worker = peers.get(peer).map(Arc::clone);
                    }
                    ServerFrame::Welcome {
                        protocol: PROTOCOL_VERSION,
                        version: crate::version().to_string(),
                        pair_id: core.pair_id().to_string(),
                    }
                }
            }
            _ if !hello => error_frame(
                None,
                ErrorCode::HelloRequired,
                "send a hello frame first: {\"type\":\"hello\",\"protocol\":2,\"version\":\"…\",\"role\":\"cli\"}",
            ),
            ClientFrame::Status { id } => ServerFrame::Status {
                id,
                status: Box::new(core.status()),
            },
            ClientFrame::Send {
                id,
                message,
                wait_ms,
            } => core.answer_send(id, message, wait_ms).await,
            ClientFrame::Ping { id } => ServerFrame::Pong { id },
            ClientFrame::Peer { id, peer, request } => {
                answer_peer(&core, &peers, id, peer, request).await
            }
        };
        if !send_frame(&mut socket, &reply).await {
            break;
        }
        // After the welcome: the peer's push worker starts writing.
        if let Some(adapter) = start_worker
            && let Some(tx) = push_tx.take()
            && let Some(fut) = adapter.attached(Arc::clone(&core), tx)
        {
            worker = Some(tokio::spawn(fut));
        }
    }
    if let Some(w) = worker {
        w.abort();
    }
    drop(attach);
}

/// Queue `frame` without flushing (the caller flushes once per batch).
async fn feed_frame(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    match serde_json::to_string(frame) {
        Ok(text) => socket.feed(Message::Text(text.into())).await.is_ok(),
        Err(_) => false,
    }
}
