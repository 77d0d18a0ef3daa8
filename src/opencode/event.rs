//! The `/event` stream of `opencode serve`, typed: the frames abg acts on
//! and a line splitter for the SSE body.
//!
//! Why it exists: the server sends every change of every session as one
//! SSE frame, `data: {"id","type","properties"}` followed by a blank line,
//! with no `id:` or `event:` lines (reference §5). abg needs only a few of
//! them: a user message appearing (a prompt was seen), an assistant message
//! finishing, the session's busy/idle status, and permission requests being
//! asked and answered (reference §8). Everything else (parts,
//! deltas, plugin and catalog bursts, heartbeats) is `Other`. Parsing is
//! pure, so the tests feed it the recorded frames.

use serde_json::Value;

/// One event abg acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The stream is open (the first frame).
    Connected,
    /// A message of `session` was created or changed.
    Message { session: String, info: MessageInfo },
    /// A part of message `message_id` was created or changed.
    Part { session: String, message_id: String },
    /// The session's status: busy (a turn runs, or retries) or idle.
    Status { session: String, busy: bool },
    /// The session went idle: one idle may cover several prompts, and an
    /// abort gives two.
    Idle { session: String },
    /// OpenCode asks the human to allow a tool call: the request as sent
    /// (`id`, `sessionID`, `permission`, `patterns`, `metadata`, `always`,
    /// `tool`). Any session of the pair's server, so a subagent's too.
    PermissionAsked { request: Value },
    /// Permission request `request_id` was answered (`once`, `always` or
    /// `reject`), by whoever answered first.
    PermissionReplied { request_id: String, reply: String },
    /// Anything else.
    Other,
}

/// What abg reads of a message's `info`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageInfo {
    pub id: String,
    /// `user` or `assistant`.
    pub role: String,
    /// For an assistant message: the user message it answers.
    pub parent_id: Option<String>,
    /// `stop`, `tool-calls`, …; absent while it runs or after an abort.
    pub finish: Option<String>,
    /// Whether `time.completed` is set.
    pub completed: bool,
    /// `time.created`, ms since the Unix epoch.
    pub created_ms: i64,
    /// Whether an error (an abort) ended it.
    pub error: bool,
}

impl MessageInfo {
    /// Read a message `info` object.
    pub fn parse(info: &Value) -> Self {
        let s = |k: &str| info.get(k).and_then(Value::as_str).map(str::to_owned);
        MessageInfo {
            id: s("id").unwrap_or_default(),
            role: s("role").unwrap_or_default(),
            parent_id: s("parentID"),
            finish: s("finish"),
            completed: info
                .pointer("/time/completed")
                .is_some_and(|c| !c.is_null()),
            created_ms: info
                .pointer("/time/created")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            error: info.get("error").is_some_and(|e| !e.is_null()),
        }
    }

    /// A final answer: an assistant message that finished with `stop`.
    pub fn is_final_answer(&self) -> bool {
        self.role == "assistant" && self.finish.as_deref() == Some("stop") && self.completed
    }
}

impl Event {
    /// Parse one frame's JSON (`{"type","properties"}`).
    pub fn parse(frame: &Value) -> Self {
        let props = frame.get("properties").cloned().unwrap_or(Value::Null);
        let session = |v: &Value| {
            v.get("sessionID")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        match frame
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
        {
            "server.connected" => Event::Connected,
            "message.updated" => {
                let info = props.get("info").cloned().unwrap_or(Value::Null);
                let mut sid = session(&props);
                if sid.is_empty() {
                    sid = session(&info);
                }
                Event::Message {
                    session: sid,
                    info: MessageInfo::parse(&info),
                }
            }
            "message.part.updated" => {
                let part = props.get("part").cloned().unwrap_or(Value::Null);
                Event::Part {
                    session: session(&part),
                    message_id: part
                        .get("messageID")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                }
            }
            "session.status" => Event::Status {
                session: session(&props),
                busy: props.pointer("/status/type").and_then(Value::as_str) != Some("idle"),
            },
            "session.idle" => Event::Idle {
                session: session(&props),
            },
            "permission.asked" if props.get("id").and_then(Value::as_str).is_some() => {
                Event::PermissionAsked { request: props }
            }
            "permission.replied" => match props.get("requestID").and_then(Value::as_str) {
                Some(id) => Event::PermissionReplied {
                    request_id: id.to_owned(),
                    reply: props
                        .get("reply")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                },
                None => Event::Other,
            },
            _ => Event::Other,
        }
    }

    /// The session the event is about, if any (none for permission
    /// events: every session of the pair's server asks the same human).
    pub fn session(&self) -> Option<&str> {
        match self {
            Event::Message { session, .. }
            | Event::Part { session, .. }
            | Event::Status { session, .. }
            | Event::Idle { session } => Some(session),
            Event::Connected
            | Event::PermissionAsked { .. }
            | Event::PermissionReplied { .. }
            | Event::Other => None,
        }
    }
}

/// Splits an SSE body into frames' `data` payloads, across chunk borders.
#[derive(Debug, Default)]
pub struct Splitter {
    buf: Vec<u8>,
    data: String,
}

impl Splitter {
    /// Feed a chunk; returns the payloads of the frames it completed.
    pub fn feed(&mut self, chunk: &[u8]) -> Vec<String> {
        self.buf.extend_from_slice(chunk);
        let mut out = Vec::new();
        while let Some(nl) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=nl).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if !self.data.is_empty() {
                    out.push(std::mem::take(&mut self.data));
                }
            } else if let Some(d) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(d.strip_prefix(' ').unwrap_or(d));
            }
        }
        out
    }
}
