//! A scripted mock of the OpenAI Chat Completions API (`POST
//! /v1/chat/completions`, streaming SSE) for the real OpenCode CLI.
//!
//! Why it exists: OpenCode reaches its model through the AI SDK's
//! OpenAI-compatible provider, configured to this server (reference
//! `tests/reference/opencode.md` §2), so a test decides what "the model"
//! says and can assert what OpenCode sent. The stream follows the recorded
//! shape: a role delta, content deltas, a `finish_reason` chunk, a usage
//! chunk with no choices, then `data: [DONE]`. Unscripted requests get
//! `mock reply N: <last user text>`. A request without `tools` (a session
//! title) is answered without consuming a scripted step.

use std::time::Duration;

use anyhow::Result;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::mock_server::{MockServer, Shared};
use super::recorder::{RecordedRequest, clip};
use super::sse::{self, Frame};

/// What the mock answers to one (non-title) request.
#[derive(Clone, Debug)]
pub struct ChatStep {
    text: String,
    delay: Option<Duration>,
    /// A function call (name, arguments) instead of text.
    tool: Option<(String, Value)>,
}

impl ChatStep {
    /// An assistant text reply.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            delay: None,
            tool: None,
        }
    }

    /// A call of tool `name` with `arguments` (finish reason `tool_calls`);
    /// OpenCode runs it (asking first if its permissions say so) and asks
    /// the model again with the result.
    pub fn tool_call(name: &str, arguments: Value) -> Self {
        Self {
            text: String::new(),
            delay: None,
            tool: Some((name.to_owned(), arguments)),
        }
    }

    /// Holds the reply open for `d` after the role delta (a turn in flight).
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = Some(d);
        self
    }
}

/// A running mock of the Chat Completions API. Dropping it stops the
/// server.
pub type MockChat = MockServer<ChatStep>;

impl MockServer<ChatStep> {
    /// Starts on `127.0.0.1:0` in the current network namespace.
    pub async fn start() -> Result<Self> {
        Self::serve(describe, handle).await
    }

    /// The provider `baseURL`: `http://127.0.0.1:P/v1`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}/v1", self.port())
    }

    /// Model turns (not title requests) whose last user text contains `needle`.
    pub fn turns_with(&self, needle: &str) -> Vec<Value> {
        self.requests()
            .into_iter()
            .filter(is_turn)
            .filter(|r| last_user_text(&r.body).is_some_and(|t| t.contains(needle)))
            .map(|r| r.body)
            .collect()
    }

    /// Waits for a model turn whose last user text contains `needle`.
    pub async fn wait_for_user_text(
        &self,
        needle: &str,
        timeout: Duration,
    ) -> Result<RecordedRequest> {
        let what = format!("a chat turn whose last user text contains {needle:?}");
        self.wait_for_request(&what, timeout, |r| {
            is_turn(r) && last_user_text(&r.body).is_some_and(|t| t.contains(needle))
        })
        .await
    }
}

fn is_turn(r: &RecordedRequest) -> bool {
    r.path == "/v1/chat/completions" && r.body.get("tools").is_some()
}

/// The text of each user message of a request, in order.
pub fn user_texts(body: &Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter(|m| m["role"] == "user")
                .map(|m| match &m["content"] {
                    Value::String(s) => s.clone(),
                    Value::Array(parts) => parts
                        .iter()
                        .filter_map(|p| p["text"].as_str())
                        .collect::<Vec<_>>()
                        .join("\n"),
                    _ => String::new(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The last user text of a request.
pub fn last_user_text(body: &Value) -> Option<String> {
    user_texts(body).pop()
}

fn describe(r: &RecordedRequest) -> String {
    if r.body.get("tools").is_none() {
        return format!("{} (no tools: title?)", r.path);
    }
    format!(
        "{} last-user={:?}",
        r.path,
        clip(&last_user_text(&r.body).unwrap_or_default(), 80)
    )
}

fn chunk(n: usize, delta: Value, finish: Value) -> Frame {
    Frame::Data(
        json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "created": 1,
               "model": "mock-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        .to_string(),
    )
}

async fn handle(State(shared): State<Shared<ChatStep>>, req: Request) -> Response {
    let recorded = shared.record(req).await;
    if recorded.method != "POST" || recorded.path != "/v1/chat/completions" {
        return sse::json_response(
            404,
            &json!({"error": {"message": "mock: no such route"}}),
            &[],
        );
    }
    let (step, n) = if is_turn(&recorded) {
        shared.script().next(&recorded.body, |n| {
            let last = last_user_text(&recorded.body).unwrap_or_default();
            ChatStep::text(format!("mock reply {n}: {last}"))
        })
    } else {
        (ChatStep::text("Mock title"), 0)
    };
    let mut frames = vec![chunk(
        n,
        json!({"role": "assistant", "content": ""}),
        Value::Null,
    )];
    if let Some(d) = step.delay {
        frames.push(Frame::Pause(d));
    }
    if let Some((name, args)) = &step.tool {
        let call = json!([{"index": 0, "id": format!("call_mock_{n}"), "type": "function",
                           "function": {"name": name, "arguments": args.to_string()}}]);
        frames.push(chunk(n, json!({ "tool_calls": call }), Value::Null));
        frames.push(chunk(n, json!({}), json!("tool_calls")));
    } else {
        for piece in sse::chunks(&step.text, 2) {
            frames.push(chunk(n, json!({ "content": piece }), Value::Null));
        }
        frames.push(chunk(n, json!({}), json!("stop")));
    }
    frames.push(Frame::Data(
        json!({"id": format!("chatcmpl-{n}"), "object": "chat.completion.chunk", "created": 1,
               "model": "mock-model", "choices": [],
               "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}})
        .to_string(),
    ));
    frames.push(Frame::Data("[DONE]".into()));
    sse::sse_response(frames, &[])
}
