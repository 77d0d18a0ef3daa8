//! The relay against a real store: pause holds deliveries, the checkpoint
//! request passes the gate, and the resume prompt is sent exactly once,
//! also across a daemon restart (a new core on the same store file).

use std::path::Path;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::budget::gate::{HELD_PREFIX, gate};
use crate::budget::readings::Patch;
use crate::config::Config;
use crate::pair::Pair;
use crate::pair::ports::Ports;
use crate::store::Store;
use crate::store::types::{DeliveryState, Message};

fn core_at(dir: &Path) -> Arc<Core> {
    let pair = Pair {
        id: "proj-0123abcd".into(),
        name: "main".into(),
        root: dir.to_path_buf(),
        slot: 0,
        ports: Ports {
            app: 1,
            reserved: 2,
            control: 3,
        },
        dir: dir.to_path_buf(),
        created_ms: 0,
    };
    let store = Store::open(&dir.join("store.db")).expect("store");
    crate::peers::setup()
        .core(pair, Config::default(), store)
        .expect("core")
}

fn messages_to(core: &Core, to: PeerId) -> Vec<Message> {
    core.with_store(|s| s.messages_after(0, 1000))
        .expect("messages")
        .into_iter()
        .filter(|m| m.to == to)
        .collect()
}

fn budget_notices(core: &Core, to: PeerId, purpose: &str) -> usize {
    messages_to(core, to)
        .iter()
        .filter(|m| m.from == PeerId::ABG && m.meta.get("budget") == Some(&json!(purpose)))
        .count()
}

fn codex_queue(core: &Core) -> Vec<crate::store::types::Pending> {
    let rows = core
        .with_store(|s| s.pending_for(PeerId::from_static("codex"), 100))
        .expect("pending");
    gate(core, PeerId::from_static("codex"), rows)
}

#[test]
fn codex_pause_checkpoint_and_exactly_one_resume_across_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_ms();
    let reset = now / 1000 + 3600;
    let core = core_at(dir.path());
    core.send(crate::control::protocol::SendRequest {
        from: PeerId::from_static("claude"),
        to: PeerId::from_static("codex"),
        body: "before the wall".into(),
        on_busy: None,
        in_reply_to: None,
        idempotency_key: None,
    })
    .expect("send");
    sense::record(
        &core,
        Side::Codex,
        &[(
            Window::FiveHour,
            Patch {
                used_pct: Some(96.0),
                resets_at: Some(reset),
            },
        )],
        "test",
    )
    .expect("record");

    // A turn is running: pause now, checkpoint later.
    let d = step(&core, true, now).expect("step");
    assert!(
        matches!(
            d.as_slice(),
            [Decision::Pause {
                side: Side::Codex,
                ..
            }]
        ),
        "{d:?}"
    );
    assert_eq!(
        budget_notices(&core, PeerId::from_static("claude"), "solo"),
        1
    );
    // The queued message is held with the reason; nothing else is offered.
    assert!(codex_queue(&core).is_empty());
    let held = core
        .with_store(|s| s.pending_for(PeerId::from_static("codex"), 100))
        .expect("pending");
    assert_eq!(held[0].delivery.state, DeliveryState::Held);
    let detail = held[0].delivery.detail.clone().unwrap_or_default();
    assert!(
        detail.starts_with(HELD_PREFIX) && detail.contains("resets at"),
        "{detail}"
    );

    // The turn ends: the checkpoint request goes out, once, and passes the gate.
    let d = step(&core, false, now + 1).expect("step");
    assert!(matches!(
        d.as_slice(),
        [Decision::RequestCheckpoint {
            side: Side::Codex,
            ..
        }]
    ));
    assert!(step(&core, false, now + 2).expect("step").is_empty());
    assert_eq!(
        budget_notices(&core, PeerId::from_static("codex"), "checkpoint"),
        1
    );
    let queue = codex_queue(&core);
    assert_eq!(queue.len(), 1);
    assert!(queue[0].message.body.contains(CHECKPOINT));

    // The daemon restarts before the reset: still paused, nothing re-sent.
    let saved = sense::load_state(&core).expect("state");
    drop(core);
    let core = core_at(dir.path());
    assert!(step(&core, false, now + 3).expect("step").is_empty());

    // After the reset: exactly one resume prompt, and the held message is released.
    let after = reset * 1000 + 1;
    let d = step(&core, false, after).expect("step");
    assert!(matches!(
        d.as_slice(),
        [Decision::Resume {
            side: Side::Codex,
            prompt: true,
            ..
        }]
    ));
    assert_eq!(
        budget_notices(&core, PeerId::from_static("codex"), "resume"),
        1
    );
    assert_eq!(
        budget_notices(&core, PeerId::from_static("claude"), "back"),
        1
    );
    assert!(step(&core, false, after + 1).expect("step").is_empty());
    // abg's notices (the undelivered checkpoint request, then the resume
    // prompt) go ahead of the released message the prompt announces.
    let queue = codex_queue(&core);
    let bodies: Vec<&str> = queue.iter().map(|p| p.message.body.as_str()).collect();
    assert_eq!(queue.len(), 3, "{bodies:?}");
    assert!(
        bodies[0].contains(CHECKPOINT)
            && bodies[1].starts_with("abg quota relay: your 5-hour window has reset"),
        "{bodies:?}"
    );
    assert_eq!(queue[2].message.body, "before the wall");
    assert_eq!(queue[2].delivery.state, DeliveryState::Queued);

    // A crash that lost the cleared state: the restarted relay resumes again
    // but sends nothing twice.
    sense::save_state(&core, &saved).expect("rewind");
    drop(core);
    let core = core_at(dir.path());
    let d = step(&core, false, after + 2).expect("step");
    assert_eq!(d.len(), 1);
    assert_eq!(
        budget_notices(&core, PeerId::from_static("codex"), "resume"),
        1
    );
    assert_eq!(
        budget_notices(&core, PeerId::from_static("claude"), "back"),
        1
    );
    let events: Vec<String> = core
        .with_store(|s| s.events_after(0, 100))
        .expect("events")
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(events.contains(&"budget.pause".to_string()), "{events:?}");
    assert!(events.contains(&"budget.checkpoint_requested".to_string()));
    assert!(events.contains(&"budget.resume".to_string()));
}

#[test]
fn claude_pause_asks_for_checkpoint_and_handoff_and_holds_its_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now = now_ms();
    let core = core_at(dir.path());
    sense::record_claude(
        &core,
        &json!({"five_hour": {"used_percentage": 97, "resets_at": now / 1000 + 600}}),
    )
    .expect("record");
    let d = step(&core, false, now).expect("step");
    assert!(
        matches!(
            d.as_slice(),
            [
                Decision::Pause {
                    side: Side::Claude,
                    ..
                },
                Decision::RequestCheckpoint {
                    side: Side::Claude,
                    other_paused: false
                }
            ]
        ),
        "{d:?}"
    );
    let asks = messages_to(&core, PeerId::from_static("claude"));
    assert_eq!(asks.len(), 1);
    assert!(
        asks[0]
            .body
            .contains("hand the task to Codex with ONE message")
    );
    // A Codex message for Claude is held; the checkpoint request is not.
    core.insert(&NewMessage::new(
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "hi",
    ))
    .expect("insert");
    let rows = core
        .with_store(|s| s.pending_for(PeerId::from_static("claude"), 100))
        .expect("pending");
    let open = gate(&core, PeerId::from_static("claude"), rows);
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].message.from, PeerId::ABG);
}

#[test]
fn manual_pause_and_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core_at(dir.path());
    assert!(manual(&core, Side::Codex, true).expect("pause").changed);
    assert!(!manual(&core, Side::Codex, true).expect("pause").changed);
    core.insert(&NewMessage::new(
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "x",
    ))
    .expect("insert");
    assert!(codex_queue(&core).is_empty());
    // Manual pauses never end by themselves.
    assert!(
        step(&core, false, now_ms() + 10_000_000_000)
            .expect("step")
            .is_empty()
    );
    let r = manual(&core, Side::Codex, false).expect("resume");
    assert!(r.changed, "{r:?}");
    assert_eq!(codex_queue(&core).len(), 1);
    // No checkpoint was asked for: no resume prompt.
    assert_eq!(
        budget_notices(&core, PeerId::from_static("codex"), "resume"),
        0
    );
}
