//! The tools `abg mcp` offers Claude: their schemas (what Claude sees), the
//! validation of their arguments with errors Claude can act on, and the
//! text of their results. Pure; the server in `mod.rs` does the I/O.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool};
use serde_json::{Value, json};
use thiserror::Error;

use crate::control::protocol::{OnBusy, PeerMessage};

/// A tool call Claude made that cannot be run as given.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ArgError {
    #[error("unknown tool {0:?}: use reply, get_messages or get_budget")]
    UnknownTool(String),
    #[error("{tool}: unknown argument {arg:?}; allowed: {allowed}")]
    UnknownArg {
        tool: &'static str,
        arg: String,
        allowed: &'static str,
    },
    #[error("{tool}: `{arg}` {problem}")]
    Bad {
        tool: &'static str,
        arg: &'static str,
        problem: String,
    },
}

/// Largest reply Claude may send in one call, in bytes.
pub const MAX_REPLY_BYTES: usize = 256 * 1024;

/// A validated call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Reply {
        text: String,
        /// A peer id or `all`; `None`: the daemon's default.
        to: Option<String>,
        on_busy: OnBusy,
        in_reply_to: Option<String>,
        idempotency_key: Option<String>,
    },
    GetMessages {
        ack: Vec<String>,
    },
    GetBudget,
}

fn schema(v: Value) -> Arc<JsonObject> {
    Arc::new(v.as_object().cloned().unwrap_or_default())
}

/// The tool list.
pub fn list() -> Vec<Tool> {
    vec![
        Tool::new(
            "reply",
            "Send a message to a peer agent (Codex unless you say otherwise). It reads only what you send here; your transcript output never reaches it. Returns the delivery result and your unread count.",
            schema(json!({
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "The message."},
                    "to": {"type": "string", "minLength": 1, "maxLength": 24,
                        "description": "Who gets it: a peer's id as it appears in from=\"…\" (e.g. \"codex\"), or \"all\" for every other agent. Default: the sender of in_reply_to, else whoever last wrote to you, else the only other agent."},
                    "on_busy": {"type": "string", "enum": ["queue", "steer", "interrupt"], "default": "queue",
                        "description": "If the recipient (Codex) is mid-turn: queue for its next turn (default), steer into the running turn, or interrupt it."},
                    "in_reply_to": {"type": "string", "description": "msg_id of the message you answer (acknowledges it)."},
                    "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 128,
                        "description": "Optional key; a retried call with the same key is sent once."}
                },
                "required": ["text"],
                "additionalProperties": false
            })),
        ),
        Tool::new(
            "get_messages",
            "Read unread messages from Codex (also those whose channel push you may have missed); returned messages count as read. Pass ack with msg_ids you already handled from <channel> blocks.",
            schema(json!({
                "type": "object",
                "properties": {
                    "ack": {"type": "array", "items": {"type": "string"},
                        "description": "msg_ids to mark as read."}
                },
                "additionalProperties": false
            })),
        ),
        Tool::new(
            "get_budget",
            "Quota windows of Claude and Codex as abg knows them.",
            schema(json!({"type": "object", "properties": {}, "additionalProperties": false})),
        ),
    ]
}

fn string_arg(
    tool: &'static str,
    arg: &'static str,
    v: &Value,
    max: usize,
) -> Result<String, ArgError> {
    let bad = |problem: String| ArgError::Bad { tool, arg, problem };
    let s = v
        .as_str()
        .ok_or_else(|| bad(format!("must be a string, got {}", kind(v))))?;
    if s.trim().is_empty() {
        return Err(bad("is empty".into()));
    }
    if s.len() > max {
        return Err(bad(format!(
            "is {} bytes, over the limit of {max}; shorten it or write it to a file and send the path",
            s.len()
        )));
    }
    Ok(s.to_string())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Validate a call of `name` with `args`.
pub fn parse(name: &str, args: Option<&JsonObject>) -> Result<Call, ArgError> {
    let empty = JsonObject::new();
    let args = args.unwrap_or(&empty);
    let check_keys = |tool: &'static str, allowed: &'static str| {
        // `get_budget` allows none: "" must not become an allowed name.
        let names: Vec<&str> = allowed.split(", ").filter(|n| !n.is_empty()).collect();
        match args.keys().find(|k| !names.contains(&k.as_str())) {
            Some(k) => Err(ArgError::UnknownArg {
                tool,
                arg: k.clone(),
                allowed,
            }),
            None => Ok(()),
        }
    };
    match name {
        "reply" => {
            check_keys("reply", "text, to, on_busy, in_reply_to, idempotency_key")?;
            let text = match args.get("text") {
                Some(v) => string_arg("reply", "text", v, MAX_REPLY_BYTES)?,
                None => {
                    return Err(ArgError::Bad {
                        tool: "reply",
                        arg: "text",
                        problem: "is required".into(),
                    });
                }
            };
            let on_busy = match args.get("on_busy") {
                None | Some(Value::Null) => OnBusy::Queue,
                Some(v) => {
                    v.as_str()
                        .and_then(|s| s.parse().ok())
                        .ok_or_else(|| ArgError::Bad {
                            tool: "reply",
                            arg: "on_busy",
                            problem: format!(
                                "must be \"queue\", \"steer\" or \"interrupt\", got {v}"
                            ),
                        })?
                }
            };
            let opt = |arg: &'static str, max: usize| -> Result<Option<String>, ArgError> {
                match args.get(arg) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => string_arg("reply", arg, v, max).map(Some),
                }
            };
            Ok(Call::Reply {
                text,
                to: opt("to", 24)?,
                on_busy,
                in_reply_to: opt("in_reply_to", 128)?,
                idempotency_key: opt("idempotency_key", 128)?,
            })
        }
        "get_messages" => {
            check_keys("get_messages", "ack")?;
            let ack = match args.get("ack") {
                None | Some(Value::Null) => Vec::new(),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|v| string_arg("get_messages", "ack", v, 128))
                    .collect::<Result<_, _>>()?,
                Some(v) => {
                    return Err(ArgError::Bad {
                        tool: "get_messages",
                        arg: "ack",
                        problem: format!("must be an array of msg_id strings, got {}", kind(v)),
                    });
                }
            };
            Ok(Call::GetMessages { ack })
        }
        "get_budget" => {
            check_keys("get_budget", "")?;
            Ok(Call::GetBudget)
        }
        other => Err(ArgError::UnknownTool(other.to_string())),
    }
}

/// The line every result ends with when messages are waiting.
pub fn unread_suffix(unread: u64) -> String {
    match unread {
        0 => String::new(),
        1 => "\n\n[abg] 1 unread message from Codex: call get_messages.".into(),
        n => format!("\n\n[abg] {n} unread messages from Codex: call get_messages."),
    }
}

/// Largest total of message text one `get_messages` result carries.
pub const MAX_FETCH_CHARS: usize = 60_000;

/// The `get_messages` text for `messages`; returns it with the ids it
/// contains (the rest stay unread for the next call).
pub fn format_messages(messages: &[PeerMessage]) -> (String, Vec<String>) {
    if messages.is_empty() {
        return ("No unread messages from Codex.".into(), Vec::new());
    }
    let mut text = String::new();
    let mut ids = Vec::new();
    for m in messages {
        let mut attrs = format!("from=\"{}\" msg_id=\"{}\"", m.from.as_str(), m.id);
        if let Some(t) = &m.thread_id {
            attrs.push_str(&format!(" thread_id=\"{t}\""));
        }
        let block = format!("<message {attrs}>\n{}\n</message>\n", m.body);
        if !ids.is_empty() && text.len() + block.len() > MAX_FETCH_CHARS {
            break;
        }
        text.push_str(&block);
        ids.push(m.id.clone());
    }
    let n = ids.len();
    let s = if n == 1 { "" } else { "s" };
    (
        format!("{n} message{s} from Codex (now marked read):\n\n{text}"),
        ids,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(v: Value) -> JsonObject {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn tool_args_are_validated() {
        let ok = parse(
            "reply",
            Some(&obj(json!({"text": "hi", "on_busy": "steer"}))),
        )
        .expect("ok");
        assert!(matches!(
            ok,
            Call::Reply {
                on_busy: OnBusy::Steer,
                to: None,
                ..
            }
        ));
        let to = parse("reply", Some(&obj(json!({"text": "hi", "to": "all"})))).expect("to");
        assert!(matches!(to, Call::Reply { to: Some(t), .. } if t == "all"));
        let rows: [(&str, Value, &str); 10] = [
            ("reply", json!({}), "`text` is required"),
            (
                "reply",
                json!({"text": 5}),
                "must be a string, got a number",
            ),
            ("reply", json!({"text": "  "}), "`text` is empty"),
            (
                "reply",
                json!({"text": "x", "on_busy": "later"}),
                "must be \"queue\"",
            ),
            (
                "reply",
                json!({"text": "x", "from": "codex"}),
                "unknown argument \"from\"",
            ),
            (
                "reply",
                json!({"text": "x", "idempotency_key": "k".repeat(129)}),
                "over the limit of 128",
            ),
            ("get_messages", json!({"ack": "m_1"}), "must be an array"),
            ("get_messages", json!({"ack": [1]}), "must be a string"),
            ("get_budget", json!({"x": 1}), "unknown argument"),
            ("get_budget", json!({"": 1}), "unknown argument \"\""),
        ];
        for (tool, args, want) in rows {
            let err = parse(tool, Some(&obj(args.clone()))).expect_err(&args.to_string());
            assert!(err.to_string().contains(want), "{tool} {args}: {err}");
        }
        let big = "x".repeat(MAX_REPLY_BYTES + 1);
        let err = parse("reply", Some(&obj(json!({"text": big})))).expect_err("big");
        assert!(err.to_string().contains("over the limit"), "{err}");
        assert!(matches!(parse("nope", None), Err(ArgError::UnknownTool(_))));
        assert_eq!(
            parse("get_messages", None),
            Ok(Call::GetMessages { ack: vec![] })
        );
    }

    #[test]
    fn schemas_are_objects_and_suffix_counts() {
        for t in list() {
            assert_eq!(
                t.input_schema.get("type"),
                Some(&json!("object")),
                "{}",
                t.name
            );
            assert!(t.description.as_deref().is_some_and(|d| d.len() < 2048));
        }
        assert_eq!(unread_suffix(0), "");
        assert!(unread_suffix(2).contains("2 unread messages"));
    }
}
