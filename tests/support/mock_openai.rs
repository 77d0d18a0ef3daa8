//! A scripted mock of the OpenAI Responses API (`POST /v1/responses`,
//! streaming SSE) for the real Codex CLI.
//!
//! Why it exists: Codex's model is replaced by this server through a custom
//! provider in the seeded `config.toml`, so a test decides what "the model"
//! says (text in chunks, a function call Codex really executes, a stall that
//! keeps a turn in flight, an HTTP error) and can assert what Codex sent.
//! Shapes follow `testing-real-clis.md` §3 exactly. The TUI's thread-title
//! side request is answered without consuming a scripted step.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::mock_server::{MockServer, Shared};
use super::recorder::{RecordedRequest, clip};
use super::sse::{self, Frame};

/// What the mock answers to one (non-title) `/v1/responses` request.
#[derive(Clone, Debug)]
pub struct Step {
    kind: Kind,
    delay: Option<Duration>,
    headers: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
enum Kind {
    Text { text: String, chunks: usize },
    FunctionCall { name: String, arguments: String },
    HttpError { status: u16, message: String },
}

impl Step {
    /// An assistant message, streamed in one delta (see [`Step::chunks`]).
    pub fn text(text: impl Into<String>) -> Self {
        Self::of(Kind::Text {
            text: text.into(),
            chunks: 1,
        })
    }

    /// A function call with JSON `arguments` (sent as a JSON string, as the
    /// API does). Codex runs it and then sends another request carrying a
    /// `function_call_output`: script the follow-up step too.
    pub fn function_call(name: impl Into<String>, arguments: &Value) -> Self {
        Self::of(Kind::FunctionCall {
            name: name.into(),
            arguments: arguments.to_string(),
        })
    }

    /// Codex's shell tool: `exec_command {"cmd": cmd}`.
    pub fn exec_command(cmd: &str) -> Self {
        Self::function_call("exec_command", &json!({ "cmd": cmd }))
    }

    /// A plain HTTP error status with an OpenAI-style error body.
    pub fn http_error(status: u16) -> Self {
        Self::of(Kind::HttpError {
            status,
            message: format!("mock error {status}"),
        })
    }

    /// Splits a text reply into `n` deltas.
    pub fn chunks(mut self, n: usize) -> Self {
        if let Kind::Text { chunks, .. } = &mut self.kind {
            *chunks = n.max(1);
        }
        self
    }

    /// Holds the response open for `d` after `response.created` (before the
    /// status, for an error), so a test can steer or interrupt mid-turn.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }

    /// Extra response headers for this step only, e.g. [`rate_limit_headers`].
    pub fn headers(mut self, headers: Vec<(String, String)>) -> Self {
        self.headers.extend(headers);
        self
    }

    fn of(kind: Kind) -> Self {
        Self {
            kind,
            delay: None,
            headers: Vec::new(),
        }
    }
}

/// The `x-codex-*` rate-limit headers Codex parses from `/v1/responses`
/// (300-minute primary and 10080-minute secondary windows).
pub fn rate_limit_headers(
    primary_used_percent: f64,
    secondary_used_percent: f64,
) -> Vec<(String, String)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    [
        (
            "x-codex-primary-used-percent",
            primary_used_percent.to_string(),
        ),
        ("x-codex-primary-window-minutes", "300".to_string()),
        ("x-codex-primary-reset-at", (now + 3600).to_string()),
        (
            "x-codex-secondary-used-percent",
            secondary_used_percent.to_string(),
        ),
        ("x-codex-secondary-window-minutes", "10080".to_string()),
        ("x-codex-secondary-reset-at", (now + 86_400).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// A running mock of the Responses API. Dropping it stops the server.
pub type MockOpenAi = MockServer<Step>;

impl MockServer<Step> {
    /// Starts on `127.0.0.1:0` in the current network namespace.
    pub async fn start() -> Result<Self> {
        Self::serve(describe, handle).await
    }

    /// The provider `base_url` for Codex's config: `http://127.0.0.1:P/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port())
    }

    /// Waits for a model turn request (not the title request) whose last user
    /// text contains `needle`.
    pub async fn wait_for_user_text(
        &self,
        needle: &str,
        timeout: Duration,
    ) -> Result<RecordedRequest> {
        let what = format!("a /v1/responses turn whose last user text contains {needle:?}");
        self.wait_for_request(&what, timeout, |r| {
            r.path == "/v1/responses"
                && !is_title_request(&r.body)
                && last_user_text(&r.body).is_some_and(|t| t.contains(needle))
        })
        .await
    }
}

/// All user-message texts in a Responses request's `input`, in order.
pub fn user_texts(body: &Value) -> Vec<String> {
    let Some(items) = body.get("input").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|i| i.get("role").and_then(Value::as_str) == Some("user"))
        .flat_map(|i| match i.get("content") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(parts)) => parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str).map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The last user text of a request (what the echo reply repeats).
pub fn last_user_text(body: &Value) -> Option<String> {
    user_texts(body).pop()
}

/// Whether this is the TUI's thread-title request: `text.format` is a JSON
/// schema with exactly one property, `title`.
pub fn is_title_request(body: &Value) -> bool {
    let format = &body["text"]["format"];
    if format["type"] != "json_schema" {
        return false;
    }
    format["schema"]["properties"]
        .as_object()
        .is_some_and(|p| p.len() == 1 && p.contains_key("title"))
}

fn describe(r: &RecordedRequest) -> String {
    if is_title_request(&r.body) {
        return "title-request".to_string();
    }
    let outputs = r.body["input"]
        .as_array()
        .map(|i| {
            i.iter()
                .filter(|x| x["type"] == "function_call_output")
                .count()
        })
        .unwrap_or(0);
    format!(
        "last-user={:?} function_call_outputs={outputs}",
        clip(&last_user_text(&r.body).unwrap_or_default(), 80)
    )
}

async fn handle(State(shared): State<Shared<Step>>, req: Request) -> Response {
    let recorded = shared.record(req).await;
    if recorded.method != "POST" || recorded.path != "/v1/responses" {
        return sse::json_response(
            404,
            &json!({"error": {"message": "mock: no such route"}}),
            &[],
        );
    }
    if is_title_request(&recorded.body) {
        let defaults = shared.script().default_headers.clone();
        return sse::sse_response(
            text_frames("resp_title", "msg_title", r#"{"title":"Mock title"}"#, 1),
            &defaults,
        );
    }
    let (step, n, defaults) = {
        let mut s = shared.script();
        let (step, n) = s.next(&recorded.body, |n| {
            let last = last_user_text(&recorded.body).unwrap_or_default();
            Step::text(format!("mock reply {n}: {last}")).chunks(2)
        });
        (step, n, s.default_headers.clone())
    };
    let mut headers = defaults;
    headers.extend(step.headers.iter().cloned());
    let resp_id = format!("resp_{n}");
    let mut frames = Vec::new();
    match step.kind {
        Kind::HttpError { status, message } => {
            if let Some(d) = step.delay {
                tokio::time::sleep(d).await;
            }
            let body = json!({"error": {"message": message, "type": "server_error", "code": null}});
            return sse::json_response(status, &body, &headers);
        }
        Kind::Text { text, chunks } => {
            frames.extend(text_frames(&resp_id, &format!("msg_{n}"), &text, chunks));
        }
        Kind::FunctionCall { name, arguments } => {
            let item = json!({"type": "function_call", "id": format!("fc_{n}"),
                "call_id": format!("call_{n}"), "name": name, "arguments": arguments});
            frames.push(created(&resp_id));
            frames.push(Frame::Event(
                "response.output_item.added",
                json!({"type": "response.output_item.added", "output_index": 0, "item": item}),
            ));
            frames.push(Frame::Event(
                "response.output_item.done",
                json!({"type": "response.output_item.done", "output_index": 0, "item": item}),
            ));
            frames.push(completed(&resp_id));
        }
    }
    if let Some(d) = step.delay {
        frames.insert(1, Frame::Pause(d));
    }
    sse::sse_response(frames, &headers)
}

fn created(resp_id: &str) -> Frame {
    Frame::Event(
        "response.created",
        json!({"type": "response.created", "response": {"id": resp_id}}),
    )
}

fn completed(resp_id: &str) -> Frame {
    Frame::Event(
        "response.completed",
        json!({"type": "response.completed", "response": {
        "id": resp_id,
        "usage": {"input_tokens": 10, "input_tokens_details": {"cached_tokens": 0},
                  "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                  "total_tokens": 15}}}),
    )
}

fn text_frames(resp_id: &str, msg_id: &str, text: &str, chunks: usize) -> Vec<Frame> {
    let mut frames = vec![
        created(resp_id),
        Frame::Event(
            "response.output_item.added",
            json!({"type": "response.output_item.added",
            "output_index": 0, "item": {"type": "message", "role": "assistant", "id": msg_id,
            "status": "in_progress", "content": []}}),
        ),
    ];
    for delta in sse::chunks(text, chunks) {
        frames.push(Frame::Event(
            "response.output_text.delta",
            json!({
            "type": "response.output_text.delta", "item_id": msg_id, "output_index": 0,
            "content_index": 0, "delta": delta}),
        ));
    }
    frames.push(Frame::Event("response.output_item.done", json!({"type": "response.output_item.done",
        "output_index": 0, "item": {"type": "message", "role": "assistant", "id": msg_id,
        "status": "completed", "content": [{"type": "output_text", "text": text, "annotations": []}]}})));
    frames.push(completed(resp_id));
    frames
}
