//! Unit tests of the OpenCode adapter's pure parts: event parsing and the
//! SSE splitter (on frames recorded from opencode 1.18.33), prompt ids, the delivery decision, answer selection, settling and routing.

use std::collections::HashSet;

use serde_json::json;

use super::api::SessionMessage;
use super::delivery::{Action, decide, prompt_id};
use super::event::{Event, MessageInfo, Splitter};
use super::ingest::{answers, settled};
use super::launch::{self, Mode};
use crate::store::types::DeliveryReason;

fn user(id: &str) -> SessionMessage {
    SessionMessage::parse(&json!({
        "info": {"id": id, "role": "user", "sessionID": "ses_1", "time": {"created": 1}},
        "parts": [{"type": "text", "text": "hi"}]
    }))
}

fn assistant(id: &str, parent: &str, finish: Option<&str>, text: &str) -> SessionMessage {
    let mut info =
        json!({"id": id, "role": "assistant", "parentID": parent, "time": {"created": 2}});
    if let Some(f) = finish {
        info["finish"] = json!(f);
        info["time"]["completed"] = json!(3);
    }
    SessionMessage::parse(&json!({
        "info": info,
        "parts": [{"type": "step-start"}, {"type": "text", "text": text}, {"type": "step-finish", "reason": "stop"}]
    }))
}

#[test]
fn events_parse_as_recorded() {
    let frames = [
        json!({"id":"evt_1","type":"server.connected","properties":{}}),
        json!({"id":"evt_2","type":"message.updated","properties":{"sessionID":"ses_1","info":{"id":"msg_U","role":"user","sessionID":"ses_1","time":{"created":5}}}}),
        json!({"id":"evt_3","type":"message.part.updated","properties":{"sessionID":"ses_1","part":{"type":"text","text":"x","messageID":"msg_U","sessionID":"ses_1","id":"prt_1"},"time":1}}),
        json!({"id":"evt_4","type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"busy"}}}),
        json!({"id":"evt_5","type":"message.updated","properties":{"sessionID":"ses_1","info":{"id":"msg_A","parentID":"msg_U","role":"assistant","time":{"created":6,"completed":7},"finish":"stop"}}}),
        json!({"id":"evt_6","type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"idle"}}}),
        json!({"id":"evt_7","type":"session.idle","properties":{"sessionID":"ses_1"}}),
        json!({"id":"evt_8","type":"plugin.added","properties":{"id":"x"}}),
        json!({"id":"evt_9","type":"session.status","properties":{"sessionID":"ses_1","status":{"type":"retry","attempt":1}}}),
    ];
    let events: Vec<Event> = frames.iter().map(Event::parse).collect();
    assert_eq!(events[0], Event::Connected);
    let Event::Message { session, info } = &events[1] else {
        panic!("{:?}", events[1])
    };
    assert_eq!(
        (session.as_str(), info.id.as_str(), info.role.as_str()),
        ("ses_1", "msg_U", "user")
    );
    assert_eq!(info.created_ms, 5);
    assert!(!info.is_final_answer());
    assert_eq!(
        events[2],
        Event::Part {
            session: "ses_1".into(),
            message_id: "msg_U".into()
        }
    );
    assert_eq!(
        events[3],
        Event::Status {
            session: "ses_1".into(),
            busy: true
        }
    );
    let Event::Message { info, .. } = &events[4] else {
        panic!()
    };
    assert!(info.is_final_answer());
    assert_eq!(info.parent_id.as_deref(), Some("msg_U"));
    assert_eq!(
        events[5],
        Event::Status {
            session: "ses_1".into(),
            busy: false
        }
    );
    assert_eq!(
        events[6],
        Event::Idle {
            session: "ses_1".into()
        }
    );
    assert_eq!(events[7], Event::Other);
    // A retry (429) keeps the session busy.
    assert_eq!(
        events[8],
        Event::Status {
            session: "ses_1".into(),
            busy: true
        }
    );
}

#[test]
fn permission_frames_parse_as_recorded() {
    // reference §8, trimmed.
    let asked = json!({"id":"evt_1","type":"permission.asked","properties":{"id":"per_1","sessionID":"ses_child",
        "permission":"bash","patterns":["echo x"],"metadata":{"command":"echo x"},"always":["echo *"]}});
    let Event::PermissionAsked { request } = Event::parse(&asked) else {
        panic!("not parsed: {asked}");
    };
    assert_eq!(request["id"], "per_1");
    assert_eq!(
        Event::parse(&asked).session(),
        None,
        "any session's request counts"
    );
    let replied = json!({"type":"permission.replied","properties":{"sessionID":"s","requestID":"per_1","reply":"once"}});
    assert_eq!(
        Event::parse(&replied),
        Event::PermissionReplied {
            request_id: "per_1".into(),
            reply: "once".into()
        }
    );
    let no_id = json!({"type":"permission.asked","properties":{"permission":"bash"}});
    assert_eq!(Event::parse(&no_id), Event::Other);
}

#[test]
fn an_aborted_or_intermediate_answer_is_not_final() {
    let aborted = MessageInfo::parse(
        &json!({"id":"msg_A","role":"assistant","time":{"created":1},"error":{"name":"MessageAbortedError"}}),
    );
    assert!(!aborted.is_final_answer() && aborted.error);
    let tool = MessageInfo::parse(
        &json!({"id":"msg_A","role":"assistant","finish":"tool-calls","time":{"created":1,"completed":2}}),
    );
    assert!(!tool.is_final_answer());
}

#[test]
fn splitter_joins_frames_across_chunks() {
    let mut s = Splitter::default();
    assert!(s.feed(b"data: {\"type\":\"server.con").is_empty());
    assert_eq!(
        s.feed(b"nected\"}\n\ndata: {\"a\":1}\r\n\r\ndata: x"),
        vec![
            "{\"type\":\"server.connected\"}".to_string(),
            "{\"a\":1}".to_string()
        ]
    );
    assert_eq!(s.feed(b"\n\n"), vec!["x".to_string()]);
}

#[test]
fn prompt_ids_have_opencodes_shape_and_sort_by_time() {
    let a = prompt_id(1_796_607_957_746, 1, [7; 14]);
    let b = prompt_id(1_796_607_957_747, 0, [200; 14]);
    assert!(a.starts_with("msg_") && a.len() == 4 + 12 + 14, "{a}");
    assert!(a[4..16].chars().all(|c| c.is_ascii_hexdigit()));
    assert!(a[16..].chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(a < b);
}

#[test]
fn delivery_waits_for_an_idle_session_and_one_prompt_at_a_time() {
    assert!(matches!(
        decide(None, false),
        Action::Wait {
            cause: DeliveryReason::TurnStateUnknown,
            ..
        }
    ));
    assert!(matches!(
        decide(Some(true), false),
        Action::Wait {
            cause: DeliveryReason::BehindTurn,
            ..
        }
    ));
    assert!(matches!(
        decide(Some(false), true),
        Action::Wait {
            cause: DeliveryReason::BehindTurn,
            ..
        }
    ));
    assert_eq!(decide(Some(false), false), Action::Post);
}

#[test]
fn answers_are_final_and_new_once() {
    let msgs = vec![
        user("msg_U1"),
        assistant("msg_A0", "msg_U1", Some("tool-calls"), "calling"),
        assistant("msg_A1", "msg_U1", Some("stop"), "one"),
        user("msg_U2"),
        assistant("msg_A2", "msg_U2", None, "still running"),
    ];
    let mut ingested = HashSet::new();
    let got: Vec<&str> = answers(&msgs, &ingested)
        .iter()
        .map(|m| m.info.id.as_str())
        .collect();
    assert_eq!(got, ["msg_A1"]);
    assert_eq!(answers(&msgs, &ingested)[0].text, "one");
    ingested.insert("msg_A1".to_string());
    assert!(answers(&msgs, &ingested).is_empty());
}

#[test]
fn one_idle_settles_every_prompt_it_covers() {
    // Two prompts posted back to back, one idle after both.
    let msgs = vec![
        user("msg_P1"),
        assistant("msg_A1", "msg_P1", Some("stop"), "a"),
        user("msg_P2"),
        assistant("msg_A2", "msg_P2", Some("stop"), "b"),
    ];
    assert!(settled(&msgs, "msg_P1", false));
    assert!(settled(&msgs, "msg_P2", true));
    // Seen but unanswered: settled only by an idle.
    let running = vec![user("msg_P3")];
    assert!(!settled(&running, "msg_P3", false));
    assert!(settled(&running, "msg_P3", true));
    // Not in the session at all: never settled.
    assert!(!settled(&running, "msg_P9", true));
}

#[test]
fn yolo_allows_everything_and_safe_keeps_the_users_config() {
    let yolo = launch::config_content(Mode::Yolo, None).expect("config");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&yolo).expect("json"),
        json!({"permission": {"*": "allow"}})
    );
    assert_eq!(launch::config_content(Mode::Safe, None), None);
    let user = r#"{"model":"x/y"}"#;
    assert_eq!(
        launch::config_content(Mode::Safe, Some(user)).as_deref(),
        Some(user)
    );
    let merged: serde_json::Value =
        serde_json::from_str(&launch::config_content(Mode::Yolo, Some(user)).expect("config"))
            .expect("json");
    assert_eq!(
        merged,
        json!({"model": "x/y", "permission": {"*": "allow"}})
    );
    let env = launch::server_env(Mode::Safe, "pw", None);
    assert!(env.contains(&("OPENCODE_DISABLE_CLAUDE_CODE".into(), "1".into())));
    assert!(env.contains(&("OPENCODE_SERVER_PASSWORD".into(), "pw".into())));
    assert!(!launch::server_args(4501).iter().any(|a| a.contains("pw")));
}

#[test]
fn the_listening_line_names_the_port() {
    assert_eq!(
        launch::listening_port("boot\nopencode server listening on http://127.0.0.1:4561\n"),
        Some(4561)
    );
    assert_eq!(launch::listening_port("starting"), None);
    assert_eq!(
        launch::attach_args(
            "http://127.0.0.1:4501",
            "/w",
            "ses_1",
            &["--model".into(), "m".into()]
        ),
        [
            "attach",
            "http://127.0.0.1:4501",
            "--dir",
            "/w",
            "--session",
            "ses_1",
            "--model",
            "m"
        ]
    );
}
