//! Helpers of the loop-governor end-to-end test (`tests/e2e_governor.rs`,
//! issue 6): a Messages API mock that makes Claude answer every message it
//! is shown, the pair's exchange limit set through the user config file,
//! the daemon's events read from its store, `abg …--json` runs, the
//! agent-to-agent messages of the transcript, and whether a peer's text
//! reached a model (Claude: in a `<channel source="abg" from="codex" …>`
//! block; Codex: in a `[from Claude] …` user turn).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use serde_json::{Value, json};

use super::pair::AbgPair;
use super::recorder::{RecordedRequest, RequestLog, clip};
use super::scenario::Scenario;
use super::sse::{self, Frame};

/// The text of Claude's `k`th reply (1-based) through `mcp__abg__reply`.
pub fn claude_text(k: usize) -> String {
    format!("claude reply {k}: review point {k} on the parser refactor")
}

/// A Messages API mock for Claude that decides from the request, not from
/// a FIFO script: once armed, every tool-carrying request whose new content
/// (after the last assistant message) shows a message from the peer or from
/// abg (a `<channel source="abg" …>` block, or a Stop hook's `<message
/// from=…>`) is answered with `mcp__abg__reply` carrying [`claude_text`]
/// `(k)` for the next `k`; every other request ends the turn with text.
///
/// Why not the FIFO mock: a peer message pushed while Claude is between
/// the reply tool and the model's next request joins that request as a
/// mid-turn note, so a fixed "reply, then text" script answers it with text
/// and the exchange stops for a reason that is not the governor's.
pub struct ReactiveClaude {
    port: u16,
    shared: Reactive,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Reactive {
    log: RequestLog,
    armed: Arc<AtomicBool>,
    replies: Arc<AtomicUsize>,
    served: Arc<AtomicUsize>,
}

impl Drop for ReactiveClaude {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ReactiveClaude {
    /// Starts on `127.0.0.1:0` in the current network namespace, unarmed
    /// (every request gets a text answer).
    pub async fn start() -> Result<Self> {
        let shared = Reactive {
            log: RequestLog::new(describe),
            armed: Arc::default(),
            replies: Arc::default(),
            served: Arc::default(),
        };
        let router = Router::new().fallback(answer).with_state(shared.clone());
        let (port, task) = sse::serve(router).await?;
        Ok(Self { port, shared, task })
    }

    /// The value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// From now on, answer messages with the reply tool.
    pub fn arm(&self) {
        self.shared.armed.store(true, Ordering::SeqCst);
    }

    /// How many replies the mock has made Claude send.
    pub fn replies(&self) -> usize {
        self.shared.replies.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.all()
    }

    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }
}

/// The request's new content: the messages after the last assistant one.
fn new_content(body: &Value) -> Value {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let first_new = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    json!({ "messages": messages[first_new..] })
}

/// Whether the new content shows Claude a message to answer.
fn shows_a_message(body: &Value) -> bool {
    anthropic_texts(&new_content(body))
        .iter()
        .any(|t| t.contains("<channel source=\"abg\"") || t.contains("<message from=\""))
}

fn describe(r: &RecordedRequest) -> String {
    if r.path != "/v1/messages" {
        return String::new();
    }
    let tools = r.body["tools"].as_array().map_or(0, Vec::len);
    let texts = anthropic_texts(&new_content(&r.body));
    format!(
        "tools={tools} new={:?}",
        clip(texts.last().map(String::as_str).unwrap_or(""), 100)
    )
}

async fn answer(State(shared): State<Reactive>, req: Request) -> Response {
    let r = sse::read_request(req).await;
    let recorded = shared
        .log
        .push(r.method, r.path, r.query, r.headers, r.body);
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
    let n = shared.served.fetch_add(1, Ordering::SeqCst) + 1;
    let tools = body["tools"].as_array().is_some_and(|t| !t.is_empty());
    let reply = tools && shared.armed.load(Ordering::SeqCst) && shows_a_message(body);
    let (content, delta, stop) = if reply {
        let k = shared.replies.fetch_add(1, Ordering::SeqCst) + 1;
        let input = json!({ "text": claude_text(k) });
        (
            json!({"type": "tool_use", "id": format!("toolu_gov_{n}"), "name": "mcp__abg__reply", "input": input}),
            json!({"type": "input_json_delta", "partial_json": input.to_string()}),
            "tool_use",
        )
    } else {
        let text = format!("claude is done with request {n}");
        (
            json!({"type": "text", "text": text}),
            json!({"type": "text_delta", "text": text}),
            "end_turn",
        )
    };
    let msg_id = format!("msg_gov_{n}");
    if !body["stream"].as_bool().unwrap_or(false) {
        let msg = json!({"id": msg_id, "type": "message", "role": "assistant", "model": "claude-mock",
            "content": [content], "stop_reason": stop, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 5}});
        return sse::json_response(200, &msg, &[]);
    }
    // Streamed: the block starts empty and its content comes as one delta.
    let mut start = content;
    match start["type"].as_str() {
        Some("tool_use") => start["input"] = json!({}),
        _ => start["text"] = json!(""),
    }
    let frames = vec![
        Frame::Event(
            "message_start",
            json!({"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": "claude-mock",
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 10, "output_tokens": 1,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
        ),
        Frame::Event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0, "content_block": start}),
        ),
        Frame::Event("ping", json!({"type": "ping"})),
        Frame::Event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0, "delta": delta}),
        ),
        Frame::Event(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": 0}),
        ),
        Frame::Event(
            "message_delta",
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 5}}),
        ),
        Frame::Event("message_stop", json!({"type": "message_stop"})),
    ];
    sse::sse_response(frames, &[])
}

/// Writes `governor.max_exchanges = limit` into the user config file abg
/// reads from `$ABG_CONFIG_DIR` (the scenario's `abg-config`). The full
/// pair drops the environment override, so this is what the daemon uses.
pub fn write_limit(s: &Scenario, limit: u32) -> Result<()> {
    let dir = s.env.root.join("abg-config");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("config.toml"),
        format!("[governor]\nmax_exchanges = {limit}\n"),
    )?;
    Ok(())
}

/// The daemon's events of `kind`, oldest first, as `{seq, kind, data}`,
/// read from `<pair_dir>/store.sqlite` without writing to it.
pub fn events(pair_dir: &Path, kind: &str) -> Result<Vec<Value>> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(
        pair_dir.join("store.sqlite"),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(Duration::from_secs(5))?;
    let mut stmt =
        conn.prepare("SELECT seq, kind, data FROM events WHERE kind = ?1 ORDER BY seq")?;
    let rows = stmt.query_map([kind], |r| {
        let seq: i64 = r.get(0)?;
        let kind: String = r.get(1)?;
        let data: String = r.get(2)?;
        Ok((seq, kind, data))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (seq, kind, data) = row?;
        let data: Value = serde_json::from_str(&data).unwrap_or(Value::String(data));
        out.push(serde_json::json!({ "seq": seq, "kind": kind, "data": data }));
    }
    Ok(out)
}

/// Runs `abg <args>` (with `--json`) in the pair; its JSON output.
pub fn cli_json(pair: &AbgPair, args: &[&str]) -> Result<Value> {
    let out = pair.run_cli(args)?;
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "abg {args:?} ({}) printed no JSON: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// `abg log --json` (the whole transcript): one JSON object per line.
pub fn log_jsonl(pair: &AbgPair) -> Result<Vec<Value>> {
    let out = pair.run_cli(&["log", "--json", "-n", "100000"])?;
    if !out.status.success() {
        bail!(
            "abg log --json failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).with_context(|| format!("abg log line {l:?}")))
        .collect()
}

/// Whether a stored message goes from one agent to the other.
pub fn is_agent_to_agent(m: &Value) -> bool {
    matches!(
        (m["from"].as_str(), m["to"].as_str()),
        (Some("claude"), Some("codex")) | (Some("codex"), Some("claude"))
    )
}

/// The agent-to-agent messages among `msgs`, in stored order.
pub fn agent_to_agent(msgs: &[Value]) -> Vec<Value> {
    msgs.iter()
        .filter(|m| is_agent_to_agent(m))
        .cloned()
        .collect()
}

/// Whether a stored message's delivery is held.
pub fn is_held(m: &Value) -> bool {
    m["state"] == "held"
}

/// The texts of a Messages API request's messages (string contents and
/// text blocks, including tool results' text).
fn anthropic_texts(body: &Value) -> Vec<String> {
    let Some(messages) = body["messages"].as_array() else {
        return Vec::new();
    };
    messages
        .iter()
        .flat_map(|m| match &m["content"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// Whether `r` is a Claude model request whose new content (the messages
/// after the last assistant message: a user turn, or the system note Claude
/// adds for a channel message arriving mid-turn) has a `<channel
/// source="abg" … from="{from}" …>` block containing `needle`.
pub fn claude_new_channel(r: &RecordedRequest, from: &str, needle: &str) -> bool {
    if r.method != "POST" || r.path != "/v1/messages" {
        return false;
    }
    let Some(messages) = r.body["messages"].as_array() else {
        return false;
    };
    let first_new = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    let tail = serde_json::json!({ "messages": messages[first_new..] });
    anthropic_texts(&tail).iter().any(|t| {
        t.split("<channel ").skip(1).any(|c| {
            c.starts_with("source=\"abg\"")
                && c.contains(&format!("from=\"{from}\""))
                && c.contains(needle)
        })
    })
}

/// Whether one of Claude's model requests carries `text` inside a
/// `<channel source="abg" … from="codex" …>` block.
pub fn claude_saw(reqs: &[RecordedRequest], text: &str) -> bool {
    reqs.iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/messages")
        .flat_map(|r| anthropic_texts(&r.body))
        .any(|t| {
            t.split("<channel ").skip(1).any(|c| {
                c.starts_with("source=\"abg\"") && c.contains("from=\"codex\"") && c.contains(text)
            })
        })
}

/// Whether one of Codex's model requests carries `[from Claude] text` as
/// user input.
pub fn codex_saw(reqs: &[RecordedRequest], text: &str) -> bool {
    let framed = format!("[from Claude] {text}");
    reqs.iter()
        .filter(|r| r.path == "/v1/responses")
        .flat_map(|r| super::mock_openai::user_texts(&r.body))
        .any(|t| t.contains(&framed))
}

/// Polls `f` every 200 ms until it yields a value; fails after `timeout`
/// with `what` and the last error.
pub async fn poll<T>(
    what: &str,
    timeout: Duration,
    mut f: impl AsyncFnMut() -> Result<Option<T>>,
) -> Result<T> {
    let end = Instant::now() + timeout;
    loop {
        let last = match f().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => None,
            Err(e) => Some(e),
        };
        if Instant::now() >= end {
            match last {
                Some(e) => bail!("timed out after {timeout:?} waiting for {what}: {e:#}"),
                None => bail!("timed out after {timeout:?} waiting for {what}"),
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
