//! What the UI and the exports see of the store: a message with its current
//! delivery state, the stream cursor (`m.d.e`: last message, delivery-log
//! and event seq the client has), and the Markdown / JSONL exports shared by
//! the UI download and `abg export`.

use std::fmt::Write as _;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::clock::utc;
use crate::control::protocol::MessageView;
use crate::store::types::{Delivery, Message};

/// A stored message as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiMessage {
    pub seq: i64,
    pub id: String,
    pub from: String,
    pub to: String,
    pub kind: String,
    pub body: String,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_busy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Current delivery state for the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why it is in that state (a `DeliveryReason` name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
}

impl UiMessage {
    /// `m` with its (first) delivery row.
    pub fn new(m: Message, delivery: Option<Delivery>) -> Self {
        let (state, reason, detail, turn_id) = match delivery {
            Some(d) => (
                Some(d.state.as_str().to_string()),
                d.reason.map(|r| r.as_str().to_string()),
                d.detail,
                d.turn_id,
            ),
            None => (None, None, None, None),
        };
        Self {
            seq: m.seq,
            id: m.id,
            from: m.from.as_str().to_string(),
            to: m.to.as_str().to_string(),
            kind: m.kind.as_str().to_string(),
            body: m.body,
            created_ms: m.created_ms,
            on_busy: m.on_busy.map(|b| b.as_str().to_string()),
            in_reply_to: m.in_reply_to,
            state,
            reason,
            detail,
            turn_id: turn_id.or(m.turn_id),
        }
    }
}

/// Where a live stream stands: the last message, delivery-log and event seq
/// delivered to the client. Written `m.d.e` (the SSE event id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub m: i64,
    pub d: i64,
    pub e: i64,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.m, self.d, self.e)
    }
}

/// A cursor that is not `m.d.e` with non-negative integers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad stream cursor {0:?}: expected <message seq>.<delivery seq>.<event seq>")]
pub struct BadCursor(pub String);

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCursor(s.chars().take(64).collect());
        let mut it = s.trim().split('.').map(|p| p.parse::<i64>());
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(Ok(m)), Some(Ok(d)), Some(Ok(e)), None) if m >= 0 && d >= 0 && e >= 0 => {
                Ok(Cursor { m, d, e })
            }
            _ => Err(bad()),
        }
    }
}

/// The export header line of a Markdown transcript.
pub fn markdown_header(pair_name: &str) -> String {
    format!("# abg transcript — pair `{pair_name}`\n\n")
}

/// One message as a Markdown section. The body is quoted verbatim inside a
/// fence long enough that no line of it can close the fence.
pub fn markdown_message(m: &MessageView) -> String {
    let mut fence = String::from("````");
    while m.body.contains(fence.as_str()) {
        fence.push('`');
    }
    let mut out = String::new();
    let state = m.state.as_deref().unwrap_or("-");
    let _ = write!(
        out,
        "## #{} · {} → {} · {} · {state}\n\n{fence}text\n{}\n{fence}\n\n",
        m.seq,
        m.from,
        m.to,
        utc(m.created_ms),
        m.body.trim_end_matches('\n')
    );
    out
}

/// One message as a JSONL line (with the trailing newline).
pub fn jsonl_message(m: &MessageView) -> Result<String, serde_json::Error> {
    Ok(serde_json::to_string(m)? + "\n")
}

/// The export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Md,
    Jsonl,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Jsonl => "jsonl",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Md => "text/markdown; charset=utf-8",
            Format::Jsonl => "application/x-ndjson",
        }
    }

    /// Render one message in this format.
    pub fn message(self, m: &MessageView) -> Result<String, serde_json::Error> {
        match self {
            Format::Md => Ok(markdown_message(m)),
            Format::Jsonl => jsonl_message(m),
        }
    }

    /// What precedes the messages.
    pub fn header(self, pair_name: &str) -> String {
        match self {
            Format::Md => markdown_header(pair_name),
            Format::Jsonl => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(body: &str) -> MessageView {
        MessageView {
            seq: 7,
            id: "m_1".into(),
            from: "claude".into(),
            to: "codex".into(),
            body: body.into(),
            created_ms: 1_700_000_000_000,
            state: Some("completed".into()),
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c: Cursor = "3.14.15".parse().expect("cursor");
        assert_eq!(c, Cursor { m: 3, d: 14, e: 15 });
        assert_eq!(c.to_string(), "3.14.15");
        for bad in ["", "1.2", "1.2.3.4", "a.b.c", "-1.0.0", "1..2"] {
            assert!(bad.parse::<Cursor>().is_err(), "{bad}");
        }
    }

    #[test]
    fn markdown_fences_cannot_be_closed_by_the_body() {
        let md = markdown_message(&view("a\n````\n# not a heading\n"));
        assert!(md.starts_with("## #7 · claude → codex · 2023-11-14 22:13:20Z · completed"));
        assert!(
            md.contains("`````text\na\n````\n# not a heading\n`````\n"),
            "{md}"
        );
        let line = jsonl_message(&view("x\ny")).expect("json");
        assert!(line.ends_with("}\n") && !line.trim_end().contains('\n'));
    }
}
