//! Claude's MCP tool calls, `{"name": …, "arguments": {…}}`, validated by
//! `claude::mcp::tools::parse` as `abg mcp` does. Properties: no panic; an
//! accepted call meets the documented limits, and its arguments written
//! back as JSON validate to the same call.
#![no_main]

use abg::claude::mcp::tools::{Call, MAX_REPLY_BYTES, format_messages, parse};
use abg::control::protocol::{OnBusy, PeerMessage};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

fn on_busy(b: OnBusy) -> &'static str {
    match b {
        OnBusy::Queue => "queue",
        OnBusy::Steer => "steer",
        OnBusy::Interrupt => "interrupt",
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(call) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let name = call.get("name").and_then(Value::as_str).unwrap_or("reply");
    let args = call.get("arguments").and_then(Value::as_object);
    let Ok(parsed) = parse(name, args) else {
        return;
    };
    let rebuilt: Map<String, Value> = match &parsed {
        Call::Reply {
            text,
            to,
            on_busy: b,
            in_reply_to,
            idempotency_key,
        } => {
            assert!(!text.trim().is_empty() && text.len() <= MAX_REPLY_BYTES);
            assert!(idempotency_key.as_ref().is_none_or(|k| k.len() <= 128));
            assert!(in_reply_to.as_ref().is_none_or(|k| k.len() <= 128));
            assert!(to.as_ref().is_none_or(|t| !t.is_empty() && t.len() <= 24));
            let mut m = Map::new();
            m.insert("text".into(), json!(text));
            if let Some(t) = to {
                m.insert("to".into(), json!(t));
            }
            m.insert("on_busy".into(), json!(on_busy(*b)));
            if let Some(r) = in_reply_to {
                m.insert("in_reply_to".into(), json!(r));
            }
            if let Some(k) = idempotency_key {
                m.insert("idempotency_key".into(), json!(k));
            }
            m
        }
        Call::GetMessages { ack } => {
            // The ids as messages: their listing never panics and keeps order.
            let msgs: Vec<PeerMessage> = ack
                .iter()
                .map(|id| PeerMessage {
                    id: id.clone(),
                    from: abg::codex::PEER,
                    body: id.clone(),
                    created_ms: 0,
                    thread_id: None,
                    turn_id: None,
                    in_reply_to: None,
                })
                .collect();
            let (_, ids) = format_messages(&msgs);
            assert_eq!(ids[..], ack[..ids.len()]);
            let mut m = Map::new();
            m.insert("ack".into(), json!(ack));
            m
        }
        Call::GetBudget => Map::new(),
    };
    assert_eq!(parse(name, Some(&rebuilt)), Ok(parsed));
});
