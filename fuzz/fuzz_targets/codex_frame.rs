//! Codex app-server frames: `codex::protocol::parse_incoming` on each text
//! frame, `Notification::parse` on notifications, the result types the
//! transport decodes, and the quota ingest of `account/rateLimits/*`
//! (`CodexSlots::merge`). Properties: no panic (a newer or broken Codex
//! never breaks parsing); errors round-trip through serde; accepted
//! readings are in range and the merged slots round-trip (they are stored).
#![no_main]

use abg::budget::readings::CodexSlots;
use abg::codex::protocol::{
    Incoming, LoadedListResult, Notification, RpcError, ThreadResult, TurnStartResult,
    TurnSteerResult, parse_incoming,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// 2026-12-01T00:00:00Z.
const NOW_MS: i64 = 1_796_083_200_000;

fn results(v: &Value) {
    let _ = serde_json::from_value::<ThreadResult>(v.clone());
    let _ = serde_json::from_value::<TurnStartResult>(v.clone());
    let _ = serde_json::from_value::<TurnSteerResult>(v.clone());
    let _ = serde_json::from_value::<LoadedListResult>(v.clone());
}

fn limits(v: &Value) {
    let Some(rl) = v.get("rateLimits") else {
        return;
    };
    let mut slots = CodexSlots::default();
    for _ in 0..2 {
        let parsed = slots.merge(rl, NOW_MS);
        for (_, p) in &parsed.patches {
            p.check(NOW_MS, "x", ("u", "r"))
                .expect("accepted is in range");
        }
    }
    let text = serde_json::to_string(&slots).expect("serialise");
    assert_eq!(
        serde_json::from_str::<CodexSlots>(&text).expect("re-parse"),
        slots
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_incoming(text) {
        Some(Incoming::Notification { method, params }) => {
            limits(&params);
            let n = Notification::parse(&method, params);
            let _ = n.thread_id();
        }
        Some(Incoming::Response { result, .. }) => match result {
            Ok(v) => {
                results(&v);
                limits(&v);
            }
            Err(e) => {
                let again = serde_json::to_string(&e).expect("serialise");
                assert_eq!(
                    serde_json::from_str::<RpcError>(&again).expect("re-parse"),
                    e
                );
            }
        },
        Some(Incoming::ServerRequest { params, .. }) => results(&params),
        None => {}
    }
});
