//! Claude Code hook stdin as `abg hook <event>` reads it
//! (`claude::hook::report_from_stdin`), the report sent to the daemon, and
//! the message ids found in prompts (`msg_ids`). Properties: no panic (any
//! stdin, JSON or not, gives a report); the report round-trips through
//! serde as it crosses the control plane; every id found is a non-empty
//! `[A-Za-z0-9_]+` quoted as `msg_id="…"` in the prompt, once.
#![no_main]

use abg::claude::hook::{EVENTS, canonical_event, msg_ids, render, report_from_stdin};
use abg::claude::protocol::{ClaudeRequest, HookReply, HookReport};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let event = EVENTS[data.len() % EVENTS.len()];
    assert_eq!(canonical_event(event), Some(event));
    let _ = canonical_event(text);
    let report = report_from_stdin(event, text);
    let wire = serde_json::to_string(&ClaudeRequest::Hook {
        report: report.clone(),
    })
    .expect("serialise");
    match serde_json::from_str::<ClaudeRequest>(&wire).expect("re-parse") {
        ClaudeRequest::Hook { report: back } => assert_eq!(back, report),
        other => panic!("not a hook: {other:?}"),
    }
    let ids = msg_ids(text);
    for (i, id) in ids.iter().enumerate() {
        assert!(!id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        assert!(text.contains(&format!("msg_id=\"{id}\"")));
        assert!(!ids[..i].contains(id));
    }
    let reply = HookReply {
        block_reason: Some(text.to_string()),
        additional_context: Some(text.to_string()),
    };
    let out = render(event, &reply).expect("output");
    let _: serde_json::Value = serde_json::from_str(&out).expect("hook output is JSON");
    let _: HookReport = report;
});
