//! HTTP plumbing shared by the two mock model servers: reading a request into
//! a recordable form, and writing a server-sent-events stream whose frames can
//! be paced (a pause keeps a model turn in flight).
//!
//! Why it exists: both mocks stream SSE the same way and differ only in the
//! frames; keeping the transport here keeps each mock about its API's shapes.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;

/// One step of an SSE stream.
#[derive(Clone, Debug)]
pub enum Frame {
    /// `event: <name>\ndata: <json>\n\n`
    Event(&'static str, Value),
    /// Wait before the next frame.
    Pause(Duration),
    /// `data: <text>\n\n` with no event name (Chat Completions streams,
    /// whose last frame is `data: [DONE]`).
    Data(String),
}

/// The parts of a request that get recorded.
pub struct ReadRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

/// Reads the whole request. A body that is not JSON is kept as a string.
pub async fn read_request(req: Request) -> ReadRequest {
    let (parts, body) = req.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let bytes = axum::body::to_bytes(body, 64 * 1024 * 1024)
        .await
        .unwrap_or_default();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    ReadRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers,
        body,
    }
}

/// A streaming `text/event-stream` response. Frames are written by a task, so
/// pauses really hold the connection open mid-response; when the client goes
/// away (Codex abandons a response on steer) the task stops.
pub fn sse_response(frames: Vec<Frame>, extra_headers: &[(String, String)]) -> Response {
    let (tx, rx) = mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        for frame in frames {
            match frame {
                Frame::Pause(d) => tokio::time::sleep(d).await,
                Frame::Event(name, data) => {
                    let chunk = format!("event: {name}\ndata: {data}\n\n");
                    if tx.send(Bytes::from(chunk)).await.is_err() {
                        return;
                    }
                }
                Frame::Data(data) => {
                    if tx
                        .send(Bytes::from(format!("data: {data}\n\n")))
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    let mut resp = Response::new(Body::from_stream(stream));
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    add_headers(&mut resp, extra_headers);
    resp
}

/// A JSON response with a status and extra headers.
pub fn json_response(status: u16, body: &Value, extra_headers: &[(String, String)]) -> Response {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    add_headers(&mut resp, extra_headers);
    resp
}

/// An empty 200 (for `HEAD` probes).
pub fn empty_ok() -> Response {
    Response::new(Body::empty())
}

fn add_headers(resp: &mut Response, extra: &[(String, String)]) {
    for (k, v) in extra {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().insert(k, v);
        }
    }
}

/// Splits `text` into `n` roughly equal pieces on char boundaries (at least
/// one piece; empty pieces are dropped unless the text is empty).
pub fn chunks(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.max(1).min(chars.len().max(1));
    let size = chars.len().div_ceil(n).max(1);
    let pieces: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    if pieces.is_empty() {
        vec![String::new()]
    } else {
        pieces
    }
}

/// Binds an axum router on `127.0.0.1:0` of the current network namespace
/// and serves it in the background. Returns the bound port.
pub async fn serve(router: axum::Router) -> anyhow::Result<(u16, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let port = listener.local_addr()?.port();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Ok((port, task))
}
