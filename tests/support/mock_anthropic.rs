//! A scripted mock of the Anthropic Messages API (`POST /v1/messages`,
//! streaming SSE) for the real Claude Code CLI.
//!
//! Why it exists: Claude's model is replaced by this server through
//! `ANTHROPIC_BASE_URL`, so a test decides what "Claude" says (text in
//! chunks, a `tool_use` such as `mcp__bridge__reply`, a stall, an HTTP error)
//! and asserts what Claude sent, e.g. that a `<channel …>` block reached the
//! model. Shapes follow `testing-real-clis.md` §4. Only requests that carry
//! tools consume scripted steps; tool-less side requests get a canned reply.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::mock_server::{MockServer, Shared};
use super::recorder::{RecordedRequest, clip};
use super::sse::{self, Frame};

/// The reply to requests without tools (never consumes a step).
pub const CANNED_REPLY: &str = "mock canned reply";

/// What the mock answers to one tool-carrying `/v1/messages` request.
#[derive(Clone, Debug)]
pub struct Step {
    kind: Kind,
    delay: Option<Duration>,
    headers: Vec<(String, String)>,
}

#[derive(Clone, Debug)]
enum Kind {
    Text { text: String, chunks: usize },
    ToolUse { name: String, input: Value },
    HttpError { status: u16 },
}

impl Step {
    pub fn text(text: impl Into<String>) -> Self {
        Self::of(Kind::Text {
            text: text.into(),
            chunks: 1,
        })
    }

    /// A `tool_use` block, e.g. `Step::tool_use("mcp__bridge__reply",
    /// json!({"text": "pong"}))`. Claude runs the tool and sends another
    /// request with the result: script the follow-up step too.
    pub fn tool_use(name: impl Into<String>, input: Value) -> Self {
        Self::of(Kind::ToolUse {
            name: name.into(),
            input,
        })
    }

    /// An HTTP error status with an Anthropic-style error body.
    pub fn http_error(status: u16) -> Self {
        Self::of(Kind::HttpError { status })
    }

    pub fn chunks(mut self, n: usize) -> Self {
        if let Kind::Text { chunks, .. } = &mut self.kind {
            *chunks = n.max(1);
        }
        self
    }

    /// Holds the stream open for `d` after `message_start` (before the status,
    /// for an error).
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }

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

/// `anthropic-ratelimit-unified-*` headers (utilizations as fractions,
/// e.g. 0.42). Claude honours them only under subscription-style auth.
pub fn rate_limit_headers(five_hour: f64, seven_day: f64) -> Vec<(String, String)> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let p = "anthropic-ratelimit-unified";
    vec![
        (format!("{p}-status"), "allowed".into()),
        (format!("{p}-reset"), (now + 3600).to_string()),
        (format!("{p}-5h-utilization"), five_hour.to_string()),
        (format!("{p}-5h-reset"), (now + 3600).to_string()),
        (format!("{p}-5h-status"), "allowed".into()),
        (format!("{p}-7d-utilization"), seven_day.to_string()),
        (format!("{p}-7d-reset"), (now + 86_400).to_string()),
        (format!("{p}-7d-status"), "allowed".into()),
    ]
}

/// A running mock of the Messages API. Dropping it stops the server.
pub type MockAnthropic = MockServer<Step>;

impl MockServer<Step> {
    /// Starts on `127.0.0.1:0` in the current network namespace.
    pub async fn start() -> Result<Self> {
        Self::serve(describe, handle).await
    }

    /// The value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// Waits for a tool-carrying `/v1/messages` request received at log
    /// position `since` or later.
    pub async fn wait_for_turn_since(
        &self,
        since: usize,
        timeout: Duration,
    ) -> Result<RecordedRequest> {
        self.log()
            .wait_since(
                since,
                "a /v1/messages request carrying tools",
                timeout,
                |r| r.method == "POST" && r.path == "/v1/messages" && has_tools(&r.body),
            )
            .await
    }
}

/// Whether the request carries a non-empty `tools` list.
pub fn has_tools(body: &Value) -> bool {
    body["tools"].as_array().is_some_and(|t| !t.is_empty())
}

/// The last `role:"user"` entry of `messages`.
pub fn last_user_message(body: &Value) -> Option<&Value> {
    body["messages"]
        .as_array()?
        .iter()
        .rev()
        .find(|m| m["role"] == "user")
}

/// The text blocks of the last user message, in order (a string content is
/// one block).
pub fn last_user_text_blocks(body: &Value) -> Vec<String> {
    match last_user_message(body).map(|m| &m["content"]) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(blocks)) => blocks
            .iter()
            .filter(|b| b["type"] == "text")
            .filter_map(|b| b["text"].as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

/// The last text any user message carries (what the echo reply repeats).
pub fn last_user_text(body: &Value) -> Option<String> {
    body["messages"]
        .as_array()?
        .iter()
        .rev()
        .filter(|m| m["role"] == "user")
        .find_map(|m| match &m["content"] {
            Value::String(s) => Some(s.clone()),
            Value::Array(blocks) => blocks
                .iter()
                .rev()
                .find(|b| b["type"] == "text")
                .and_then(|b| b["text"].as_str().map(str::to_string)),
            _ => None,
        })
}

/// The `tool_result` block answering `tool_use_id`, in any message.
pub fn tool_result<'a>(body: &'a Value, tool_use_id: &str) -> Option<&'a Value> {
    body["messages"]
        .as_array()?
        .iter()
        .filter_map(|m| m["content"].as_array())
        .flatten()
        .find(|b| b["type"] == "tool_result" && b["tool_use_id"] == tool_use_id)
}

fn describe(r: &RecordedRequest) -> String {
    if r.path != "/v1/messages" {
        return String::new();
    }
    let tools = r.body["tools"].as_array().map_or(0, Vec::len);
    let blocks = last_user_text_blocks(&r.body);
    format!(
        "tools={tools} last-user-last-block={:?}",
        clip(blocks.last().map(String::as_str).unwrap_or(""), 100)
    )
}

async fn handle(State(shared): State<Shared<Step>>, req: Request) -> Response {
    let recorded = shared.record(req).await;
    let body = &recorded.body;
    match (recorded.method.as_str(), recorded.path.as_str()) {
        ("HEAD", _) => return sse::empty_ok(),
        ("POST", "/v1/messages/count_tokens") => {
            return sse::json_response(200, &json!({"input_tokens": 100}), &[]);
        }
        ("POST", "/v1/messages") => {}
        _ => {
            let err = json!({"type": "error", "error": {"type": "not_found_error", "message": "mock: no such route"}});
            return sse::json_response(404, &err, &[]);
        }
    }
    let streaming = body["stream"].as_bool().unwrap_or(false);
    let (step, n, mut headers) = {
        let mut s = shared.script();
        if has_tools(body) {
            let (step, n) = s.next(body, |n| {
                let last = last_user_text(body).unwrap_or_default();
                Step::text(format!("mock reply {n}: {last}")).chunks(2)
            });
            (step, n, s.default_headers.clone())
        } else {
            (Step::text(CANNED_REPLY), 0, s.default_headers.clone())
        }
    };
    headers.extend(step.headers.iter().cloned());
    if let Some(d) = step
        .delay
        .filter(|_| !streaming || matches!(step.kind, Kind::HttpError { .. }))
    {
        tokio::time::sleep(d).await;
    }
    let (block, deltas, stop_reason) = match &step.kind {
        Kind::HttpError { status } => {
            let err = json!({"type": "error", "error": {"type": "api_error", "message": format!("mock error {status}")}});
            return sse::json_response(*status, &err, &headers);
        }
        Kind::Text { text, chunks } => (
            json!({"type": "text", "text": ""}),
            sse::chunks(text, *chunks)
                .into_iter()
                .map(|t| json!({"type": "text_delta", "text": t}))
                .collect::<Vec<_>>(),
            "end_turn",
        ),
        Kind::ToolUse { name, .. } => (
            json!({"type": "tool_use", "id": format!("toolu_mock_{n}"), "name": name, "input": {}}),
            vec![json!({"type": "input_json_delta", "partial_json": tool_input(&step.kind)})],
            "tool_use",
        ),
    };
    let msg_id = format!("msg_mock_{n}");
    if !streaming {
        let content = match &step.kind {
            Kind::Text { text, .. } => json!([{"type": "text", "text": text}]),
            Kind::ToolUse { name, input } => {
                json!([{"type": "tool_use", "id": format!("toolu_mock_{n}"), "name": name, "input": input}])
            }
            Kind::HttpError { .. } => json!([]),
        };
        let msg = json!({"id": msg_id, "type": "message", "role": "assistant", "model": "claude-mock",
            "content": content, "stop_reason": stop_reason, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5}});
        return sse::json_response(200, &msg, &headers);
    }
    let mut frames = vec![Frame::Event(
        "message_start",
        json!({"type": "message_start", "message": {
        "id": msg_id, "type": "message", "role": "assistant", "model": "claude-mock", "content": [],
        "stop_reason": null, "stop_sequence": null, "usage": {"input_tokens": 10, "output_tokens": 1,
        "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
    )];
    if let Some(d) = step.delay {
        frames.push(Frame::Pause(d));
    }
    frames.push(Frame::Event(
        "content_block_start",
        json!({"type": "content_block_start", "index": 0, "content_block": block}),
    ));
    frames.push(Frame::Event("ping", json!({"type": "ping"})));
    for delta in deltas {
        frames.push(Frame::Event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ));
    }
    frames.push(Frame::Event(
        "content_block_stop",
        json!({"type": "content_block_stop", "index": 0}),
    ));
    frames.push(Frame::Event("message_delta", json!({"type": "message_delta",
        "delta": {"stop_reason": stop_reason, "stop_sequence": null}, "usage": {"output_tokens": 5}})));
    frames.push(Frame::Event(
        "message_stop",
        json!({"type": "message_stop"}),
    ));
    sse::sse_response(frames, &headers)
}

fn tool_input(kind: &Kind) -> String {
    match kind {
        Kind::ToolUse { input, .. } => input.to_string(),
        _ => String::new(),
    }
}
