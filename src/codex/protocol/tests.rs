//! Parsing tests over frames recorded from codex 0.169.0 (see the reference's
//! codex.md §3–§6), plus unknown methods, fields and item kinds.

use super::methods::{self, ClientRequest};
use super::*;
use serde_json::json;

fn notification(text: &str) -> Notification {
    match parse_incoming(text) {
        Some(Incoming::Notification { method, params }) => Notification::parse(&method, params),
        other => panic!("not a notification: {other:?}"),
    }
}

#[test]
fn responses_errors_and_server_requests_are_classified() {
    let ok = parse_incoming(
        r#"{"id":1,"result":{"userAgent":"abg/0.169.0 (Debian 12.0.0; x86_64) xterm (abg; 0.1.0)","codexHome":"/h","platformFamily":"unix","platformOs":"linux"}}"#,
    );
    let Some(Incoming::Response { id, result: Ok(r) }) = ok else {
        panic!("{ok:?}")
    };
    assert_eq!(id, json!(1));
    let init: InitializeResult = serde_json::from_value(r).expect("init");
    assert!(init.user_agent.contains("0.169.0"));

    let err = parse_incoming(
        r#"{"id":"7","error":{"code":-32600,"message":"expected active turn id `a` but found `b`"}}"#,
    );
    let Some(Incoming::Response { result: Err(e), .. }) = err else {
        panic!("{err:?}")
    };
    assert_eq!(e.code, -32600);

    let req = parse_incoming(
        r#"{"id":7,"method":"item/commandExecution/requestApproval","params":{"threadId":"t","turnId":"u","itemId":"call_1","startedAtMs":1787000000000,"command":"cargo test","cwd":"/repo","reason":null}}"#,
    );
    assert!(
        matches!(req, Some(Incoming::ServerRequest { ref method, .. }) if method == "item/commandExecution/requestApproval")
    );
    assert_eq!(parse_incoming("[1,2]"), None);
    assert_eq!(parse_incoming("not json"), None);
}

#[test]
fn turn_lifecycle_frames_parse() {
    let started = notification(
        r#"{"method":"turn/started","params":{"threadId":"th1","turn":{"id":"tu1","rootTurnId":"tu1","items":[],"itemsView":"notLoaded","status":"inProgress","error":null,"startedAt":null,"completedAt":null,"durationMs":null}},"emittedAtMs":1}"#,
    );
    assert!(
        matches!(started, Notification::TurnStarted { ref thread_id, ref turn } if thread_id == "th1" && turn.id == "tu1" && turn.status == TurnStatus::InProgress)
    );

    let user = notification(
        r#"{"method":"item/completed","params":{"item":{"type":"userMessage","id":"u1","clientId":"m_1","content":[{"type":"text","text":"[from Claude] hi","text_elements":[]}]},"threadId":"th1","turnId":"tu1","startedAtMs":5}}"#,
    );
    let Notification::ItemCompleted {
        item: ThreadItem::UserMessage {
            client_id, content, ..
        },
        ..
    } = user
    else {
        panic!("{user:?}")
    };
    assert_eq!(client_id.as_deref(), Some("m_1"));
    assert_eq!(content, vec![UserInput::text("[from Claude] hi")]);

    let agent = notification(
        r#"{"method":"item/completed","params":{"item":{"type":"agentMessage","id":"msg_1","text":"Hello from the mock model!","phase":null,"memoryCitation":null},"threadId":"th1","turnId":"tu1"}}"#,
    );
    assert!(
        matches!(agent, Notification::ItemCompleted { item: ThreadItem::AgentMessage { ref id, ref text }, ref turn_id, .. } if id == "msg_1" && text == "Hello from the mock model!" && turn_id == "tu1")
    );

    let done = notification(
        r#"{"method":"turn/completed","params":{"threadId":"th1","turn":{"id":"tu1","status":"interrupted","items":[{"type":"agentMessage","id":"msg_1","text":"x"}],"itemsView":"summary","durationMs":12}}}"#,
    );
    assert!(
        matches!(done, Notification::TurnCompleted { ref turn, .. } if turn.status == TurnStatus::Interrupted && turn.status.is_terminal())
    );

    let idle = notification(
        r#"{"method":"thread/status/changed","params":{"threadId":"th1","status":{"type":"idle"}}}"#,
    );
    assert_eq!(
        idle,
        Notification::ThreadStatusChanged {
            thread_id: "th1".into(),
            status: ThreadStatus::Idle
        }
    );
    let active = notification(
        r#"{"method":"thread/status/changed","params":{"threadId":"th1","status":{"type":"active","activeFlags":["waitingOnApproval"]}}}"#,
    );
    assert!(
        matches!(active, Notification::ThreadStatusChanged { status: ThreadStatus::Active { ref active_flags }, .. } if active_flags == &["waitingOnApproval"])
    );
}

#[test]
fn commands_and_file_changes_parse() {
    let cmd = notification(
        r#"{"method":"item/completed","params":{"threadId":"t","turnId":"u","item":{"type":"commandExecution","id":"call_2","command":"echo tool-ran > tool.txt && cat tool.txt","cwd":"/w","status":"completed","commandActions":[],"aggregatedOutput":"tool-ran\n","exitCode":0,"durationMs":3,"processId":null,"source":"agent"}}}"#,
    );
    assert!(matches!(
        cmd,
        Notification::ItemCompleted {
            item: ThreadItem::CommandExecution {
                exit_code: Some(0),
                ..
            },
            ..
        }
    ));
    let fc = notification(
        r#"{"method":"item/completed","params":{"threadId":"t","turnId":"u","item":{"type":"fileChange","id":"p1","changes":[{"path":"src/a.rs","kind":{"type":"update"},"diff":"@@"}],"status":"completed"}}}"#,
    );
    assert!(
        matches!(fc, Notification::ItemCompleted { item: ThreadItem::FileChange { ref changes, .. }, .. } if changes[0].path == "src/a.rs")
    );
}

#[test]
fn unknown_methods_items_and_fields_are_tolerated() {
    let other = notification(
        r#"{"method":"account/rateLimits/updated","params":{"rateLimits":{"limitId":null}},"emittedAtMs":3}"#,
    );
    assert_eq!(
        other,
        Notification::Other {
            method: "account/rateLimits/updated".into()
        }
    );
    let future = notification(r#"{"method":"brand/new/thing","params":null}"#);
    assert!(matches!(future, Notification::Other { .. }));
    let reasoning = notification(
        r#"{"method":"item/completed","params":{"threadId":"t","turnId":"u","item":{"type":"reasoning","id":"r","summary":[],"content":[]}}}"#,
    );
    assert!(matches!(
        reasoning,
        Notification::ItemCompleted {
            item: ThreadItem::Unknown,
            ..
        }
    ));
    // A known method whose params changed shape degrades to Other.
    let odd = notification(r#"{"method":"turn/started","params":{"weird":true}}"#);
    assert!(matches!(odd, Notification::Other { .. }));
    let status = notification(
        r#"{"method":"thread/status/changed","params":{"threadId":"t","status":{"type":"hibernating"}}}"#,
    );
    assert!(matches!(
        status,
        Notification::ThreadStatusChanged {
            status: ThreadStatus::Unknown,
            ..
        }
    ));
}

#[test]
fn threads_parse_with_turns_and_extra_fields() {
    let read: ThreadResult = serde_json::from_value(json!({"thread": {
        "id": "th1", "sessionId": "s", "preview": "hello from the tui", "ephemeral": false,
        "path": "/h/sessions/rollout-1-th1.jsonl", "cwd": "/w", "source": "cli",
        "status": {"type": "active", "activeFlags": []}, "cliVersion": "0.169.0",
        "modelProvider": "mock", "createdAt": 1, "updatedAt": 2, "projectId": null,
        "turns": [{"id": "tu1", "status": "completed", "items": []},
                  {"id": "tu2", "status": "inProgress", "items": [
                      {"type": "userMessage", "id": "u", "clientId": "m_9", "content": []}]}],
        "somethingNew": {"x": 1}
    }}))
    .expect("thread");
    let t = read.thread;
    assert_eq!(t.turns.len(), 2);
    assert_eq!(t.turns[1].status, TurnStatus::InProgress);
    assert!(matches!(t.status, Some(ThreadStatus::Active { .. })));
}

#[test]
fn requests_serialise_as_the_server_expects() {
    let start = TurnStartParams {
        thread_id: "th".into(),
        client_user_message_id: "m_1".into(),
        input: vec![UserInput::text("[from Claude] hi")],
    };
    assert_eq!(
        serde_json::to_value(&start).expect("ser"),
        json!({"threadId":"th","clientUserMessageId":"m_1",
               "input":[{"type":"text","text":"[from Claude] hi","text_elements":[]}]})
    );
    let steer = TurnSteerParams {
        thread_id: "th".into(),
        expected_turn_id: "tu".into(),
        client_user_message_id: "m_2".into(),
        input: vec![],
    };
    assert_eq!(
        serde_json::to_value(&steer).expect("ser")["expectedTurnId"],
        "tu"
    );
    let init = serde_json::to_value(InitializeParams::abg()).expect("ser");
    assert_eq!(init["clientInfo"]["name"], "abg");
    assert_eq!(init["capabilities"]["experimentalApi"], true);
    let req = OutgoingRequest {
        id: 3,
        method: methods::ThreadResume::METHOD,
        params: ThreadResumeParams {
            thread_id: "th".into(),
            exclude_turns: true,
        },
    };
    let text = serde_json::to_string(&req).expect("ser");
    assert!(!text.contains("jsonrpc"));
    assert!(text.contains(r#""excludeTurns":true"#));
}

/// The method table: every name as codex 0.169.0 spells it, once; params
/// of the methods that take none serialise as they did when they were
/// written inline (`{}` and `null`).
#[test]
fn the_method_table_names_each_method_once() {
    assert_eq!(
        methods::CLIENT_REQUESTS,
        [
            "initialize",
            "turn/start",
            "turn/steer",
            "turn/interrupt",
            "thread/loaded/list",
            "thread/read",
            "thread/resume",
            "account/rateLimits/read",
        ]
    );
    assert_eq!(methods::CLIENT_NOTIFICATIONS, ["initialized"]);
    assert_eq!(
        methods::SERVER_NOTIFICATIONS,
        [
            "turn/started",
            "turn/completed",
            "item/started",
            "item/completed",
            "thread/started",
            "thread/status/changed",
            "thread/closed",
            "error",
            "account/rateLimits/updated",
        ]
    );
    let mut all: Vec<&str> = [
        methods::CLIENT_REQUESTS,
        methods::CLIENT_NOTIFICATIONS,
        methods::SERVER_NOTIFICATIONS,
        methods::OPT_OUT_NOTIFICATIONS,
    ]
    .concat();
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "a method is named twice");
    fn params<M: ClientRequest>(p: M::Params) -> serde_json::Value {
        serde_json::to_value(p).expect("ser")
    }
    assert_eq!(params::<methods::ThreadLoadedList>(NoParams {}), json!({}));
    assert_eq!(params::<methods::AccountRateLimitsRead>(()), json!(null));
}
