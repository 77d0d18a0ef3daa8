//! What the UI and the exports see of the store: a stored message with its
//! current delivery state as a `UiMessage` (the wire type is in
//! `control::protocol::web`), and the Markdown / JSONL exports shared by the
//! UI download and `abg export`: the messages, then the approvals audit
//! (every request an agent put to the human and how it was answered).

use std::fmt::Write as _;

use serde::Deserialize;

use crate::clock::utc;
use crate::control::protocol::MessageView;
use crate::control::protocol::web::UiMessage;
use crate::store::types::{Approval, Delivery, Message};

/// The fan-out `m` belongs to (see [`UiMessage::fanout`]): the copies of
/// one send carry one key each, the first the send's own and the others
/// with `#<recipient>` appended (`K`, `K#codex`, as
/// [`crate::daemon::routing::key_for`] makes them), or, from the composer,
/// `ui-K-<recipient>` every one. The sender is part of it, so two senders'
/// keys never meet.
pub fn fanout_of(m: &Message) -> Option<String> {
    let key = m
        .idempotency_key
        .as_deref()
        .or(m.source_item_id.as_deref())?;
    let to = m.to.as_str();
    let base = match key.strip_suffix(to) {
        Some(k) if k.ends_with('#') => &k[..k.len() - 1],
        Some(k) if k.starts_with("ui-") && k.ends_with('-') => &k[..k.len() - 1],
        _ => key,
    };
    Some(format!("{} {base}", m.from.as_str()))
}

impl UiMessage {
    /// `m` with its (first) delivery row.
    pub fn new(m: Message, delivery: Option<Delivery>) -> Self {
        let fanout = fanout_of(&m);
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
            fanout,
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

/// One approval request and its answer, for the audit after the messages.
pub fn markdown_approval(a: &Approval) -> String {
    let detail = serde_json::to_string_pretty(&a.detail).unwrap_or_default();
    let mut fence = String::from("````");
    while detail.contains(fence.as_str()) {
        fence.push('`');
    }
    let answered = match (a.answered_ms, a.answered_via) {
        (Some(ms), Some(via)) => {
            let by = a.answered_by.as_deref().unwrap_or("-");
            let decision = a
                .decision
                .as_ref()
                .and_then(|d| d.get("decision"))
                .and_then(|d| d.as_str())
                .unwrap_or("-");
            format!(
                "{} at {} via {via} by {by} (decision: {decision})",
                a.state,
                utc(ms)
            )
        }
        _ => a.state.as_str().to_string(),
    };
    format!(
        "### approval {} · {} · {} · asked {}

{answered}

{fence}json
{detail}
{fence}

",
        a.id,
        a.peer,
        a.kind.as_str(),
        utc(a.created_ms),
    )
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

    /// The approvals audit that follows the messages (nothing when none).
    pub fn approvals(self, rows: &[Approval]) -> Result<String, serde_json::Error> {
        if rows.is_empty() {
            return Ok(String::new());
        }
        let mut out = String::new();
        match self {
            Format::Md => {
                out.push_str("## Approvals\n\n");
                for a in rows {
                    out.push_str(&markdown_approval(a));
                }
            }
            Format::Jsonl => {
                for a in rows {
                    let mut v = serde_json::to_value(a)?;
                    if let Some(o) = v.as_object_mut() {
                        o.insert("record".into(), "approval".into());
                    }
                    out.push_str(&(serde_json::to_string(&v)? + "\n"));
                }
            }
        }
        Ok(out)
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
    use crate::control::protocol::web::Cursor;

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
    fn the_copies_of_one_send_share_a_fanout_key() {
        use crate::store::types::NewMessage;
        let at = |from: &str, to: &str, key: Option<&str>, item: Option<&str>| {
            let new = NewMessage::new(from.parse().expect("from"), to.parse().expect("to"), "hi");
            let m = Message {
                seq: 1,
                id: "m_1".into(),
                from: new.from,
                to: new.to,
                body: new.body,
                kind: new.kind,
                created_ms: 0,
                thread_id: None,
                turn_id: None,
                source_item_id: item.map(str::to_string),
                in_reply_to: None,
                idempotency_key: key.map(str::to_string),
                on_busy: None,
                meta: serde_json::Value::Null,
            };
            fanout_of(&m)
        };
        // (from, to, idempotency key, source item, fanout)
        type Row<'a> = (
            &'a str,
            &'a str,
            Option<&'a str>,
            Option<&'a str>,
            Option<&'a str>,
        );
        let table: &[Row] = &[
            (
                "claude",
                "codex",
                Some("claude-t1"),
                None,
                Some("claude claude-t1"),
            ),
            (
                "claude",
                "third",
                Some("claude-t1#third"),
                None,
                Some("claude claude-t1"),
            ),
            (
                "codex",
                "claude",
                None,
                Some("item_7"),
                Some("codex item_7"),
            ),
            (
                "codex",
                "third",
                None,
                Some("item_7#third"),
                Some("codex item_7"),
            ),
            (
                "human",
                "codex",
                Some("ui-abc-codex"),
                None,
                Some("human ui-abc"),
            ),
            (
                "human",
                "claude",
                Some("ui-abc-claude"),
                None,
                Some("human ui-abc"),
            ),
            (
                "human",
                "codex",
                Some("cli-9f#codex"),
                None,
                Some("human cli-9f"),
            ),
            // Not a recipient suffix: the key as it is.
            (
                "human",
                "codex",
                Some("ui-abc-claude"),
                None,
                Some("human ui-abc-claude"),
            ),
            (
                "human",
                "codex",
                Some("abc-codex"),
                None,
                Some("human abc-codex"),
            ),
            ("human", "codex", None, None, None),
        ];
        for (from, to, key, item, want) in table {
            assert_eq!(
                at(from, to, *key, *item).as_deref(),
                *want,
                "{from}→{to} {key:?} {item:?}"
            );
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

    #[test]
    fn the_approvals_audit_says_who_answered_how_and_when() {
        use crate::store::types::{AnsweredVia, ApprovalKind, ApprovalState, PeerId};
        let a = Approval {
            id: "a_1".into(),
            peer: PeerId::from_static("codex"),
            request_key: "call_1:0".into(),
            kind: ApprovalKind::Command,
            detail: serde_json::json!({"command": "touch x ````"}),
            options: None,
            state: ApprovalState::Approved,
            created_ms: 1_700_000_000_000,
            expires_ms: None,
            answered_ms: Some(1_700_000_005_000),
            answered_by: Some("human".into()),
            answered_via: Some(AnsweredVia::Web),
            decision: Some(serde_json::json!({"decision": "approve"})),
        };
        let md = Format::Md.approvals(std::slice::from_ref(&a)).expect("md");
        assert!(
            md.starts_with(
                "## Approvals\n\n### approval a_1 · codex · command · asked 2023-11-14 22:13:20Z"
            ),
            "{md}"
        );
        assert!(
            md.contains("approved at 2023-11-14 22:13:25Z via web by human (decision: approve)"),
            "{md}"
        );
        assert!(
            md.contains("`````json\n"),
            "the fence outlasts the detail: {md}"
        );
        let jl = Format::Jsonl.approvals(&[a]).expect("jsonl");
        let v: serde_json::Value = serde_json::from_str(jl.trim_end()).expect("one line");
        assert_eq!(
            (v["record"].as_str(), v["answered_via"].as_str()),
            (Some("approval"), Some("web"))
        );
        assert!(Format::Md.approvals(&[]).expect("none").is_empty());
    }
}
