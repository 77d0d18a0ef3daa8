//! Delivery state machines: valid paths for both recipients, refused transitions, retry,
//! queue order, and counters.

use super::super::{DeliveryState as S, PeerId, StoreError};
use super::{insert, temp_store};

#[test]
fn claude_path_stored_pushed_seen_acknowledged() {
    let (_dir, mut store) = temp_store();
    let id = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "hi",
    );
    let t = store
        .transition(
            &id,
            PeerId::from_static("claude"),
            S::Pushed,
            Some("channel"),
            None,
        )
        .unwrap();
    assert_eq!(
        (t.previous, t.delivery.state, t.changed),
        (S::Stored, S::Pushed, true)
    );
    assert_eq!(t.delivery.attempts, 1);
    assert_eq!(t.delivery.detail.as_deref(), Some("channel"));
    // A second push (e.g. the Stop-hook path) is another attempt.
    let t = store
        .transition(
            &id,
            PeerId::from_static("claude"),
            S::Pushed,
            Some("stop-hook"),
            None,
        )
        .unwrap();
    assert_eq!(t.delivery.attempts, 2);
    store
        .transition(&id, PeerId::from_static("claude"), S::Seen, None, None)
        .unwrap();
    let t = store
        .transition(
            &id,
            PeerId::from_static("claude"),
            S::Acknowledged,
            Some("get_messages"),
            None,
        )
        .unwrap();
    assert_eq!(t.delivery.attempts, 2);
    assert_eq!(store.deliveries_for(&id).unwrap(), vec![t.delivery]);
    let log: Vec<S> = store
        .delivery_log(&id)
        .unwrap()
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        log,
        [S::Stored, S::Pushed, S::Pushed, S::Seen, S::Acknowledged]
    );
    assert!(
        store
            .pending_for(PeerId::from_static("claude"), 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.unacked_count(PeerId::from_static("claude")).unwrap(),
        0
    );
}

#[test]
fn codex_paths_record_the_turn() {
    let (_dir, mut store) = temp_store();
    let queued = insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "idle start",
    );
    let t = store
        .transition(
            &queued,
            PeerId::from_static("codex"),
            S::Started,
            None,
            Some("turn-1"),
        )
        .unwrap();
    assert_eq!(
        (t.delivery.turn_id.as_deref(), t.delivery.attempts),
        (Some("turn-1"), 1)
    );
    // Completion without a turn id keeps the recorded one.
    let t = store
        .transition(
            &queued,
            PeerId::from_static("codex"),
            S::Completed,
            None,
            None,
        )
        .unwrap();
    assert_eq!(t.delivery.turn_id.as_deref(), Some("turn-1"));

    let steered = insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "steer me",
    );
    store
        .transition(
            &steered,
            PeerId::from_static("codex"),
            S::Steering,
            None,
            Some("turn-2"),
        )
        .unwrap();
    let t = store
        .transition(
            &steered,
            PeerId::from_static("codex"),
            S::Started,
            None,
            None,
        )
        .unwrap();
    assert_eq!(
        t.delivery.attempts, 1,
        "started after steering is the same attempt"
    );
    assert_eq!(t.delivery.turn_id.as_deref(), Some("turn-2"));

    // A refused steer falls back to the queue, then starts its own turn.
    let refused = insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "refused steer",
    );
    store
        .transition(
            &refused,
            PeerId::from_static("codex"),
            S::Steering,
            None,
            None,
        )
        .unwrap();
    store
        .transition(
            &refused,
            PeerId::from_static("codex"),
            S::Queued,
            Some("turn not steerable"),
            None,
        )
        .unwrap();
    let t = store
        .transition(
            &refused,
            PeerId::from_static("codex"),
            S::Started,
            None,
            Some("turn-3"),
        )
        .unwrap();
    assert_eq!(t.delivery.attempts, 2);

    let interrupted = insert(
        &mut store,
        PeerId::HUMAN,
        PeerId::from_static("codex"),
        "stop that",
    );
    store
        .transition(
            &interrupted,
            PeerId::from_static("codex"),
            S::Interrupting,
            None,
            None,
        )
        .unwrap();
    let t = store
        .transition(
            &interrupted,
            PeerId::from_static("codex"),
            S::Started,
            None,
            Some("turn-4"),
        )
        .unwrap();
    assert_eq!(t.delivery.attempts, 1);
}

#[test]
fn invalid_transitions_are_refused_and_write_nothing() {
    let (_dir, mut store) = temp_store();
    let id = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "hi",
    );
    // A Codex state on a Claude delivery.
    let err = store
        .transition(&id, PeerId::from_static("claude"), S::Started, None, None)
        .unwrap_err();
    assert!(matches!(
        err,
        StoreError::InvalidTransition {
            from: S::Stored,
            to: S::Started,
            ..
        }
    ));
    store
        .transition(
            &id,
            PeerId::from_static("claude"),
            S::Acknowledged,
            None,
            None,
        )
        .unwrap();
    // Out of a terminal state.
    for to in [S::Pushed, S::Stored, S::Failed, S::Held] {
        let err = store
            .transition(&id, PeerId::from_static("claude"), to, None, None)
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::InvalidTransition {
                    from: S::Acknowledged,
                    ..
                }
            ),
            "{to}: {err}"
        );
    }
    // Repeating the terminal state is an idempotent no-op.
    let t = store
        .transition(
            &id,
            PeerId::from_static("claude"),
            S::Acknowledged,
            None,
            None,
        )
        .unwrap();
    assert!(!t.changed);
    assert_eq!(store.delivery_log(&id).unwrap().len(), 2);
    // No delivery for that recipient / no such message.
    assert!(matches!(
        store.transition(&id, PeerId::from_static("codex"), S::Queued, None, None),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.transition(
            "m_nope",
            PeerId::from_static("claude"),
            S::Pushed,
            None,
            None
        ),
        Err(StoreError::NotFound { .. })
    ));
    let codex = insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "x",
    );
    store
        .transition(
            &codex,
            PeerId::from_static("codex"),
            S::Failed,
            Some("app-server gone"),
            None,
        )
        .unwrap();
    assert!(
        store
            .transition(&codex, PeerId::from_static("codex"), S::Queued, None, None)
            .is_err()
    );
    assert!(
        store
            .transition(&codex, PeerId::from_static("codex"), S::Pushed, None, None)
            .is_err()
    );
}

#[test]
fn retry_restarts_a_finished_delivery() {
    let (_dir, mut store) = temp_store();
    let id = insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "x",
    );
    store
        .transition(
            &id,
            PeerId::from_static("codex"),
            S::Started,
            None,
            Some("turn-1"),
        )
        .unwrap();
    store
        .transition(
            &id,
            PeerId::from_static("codex"),
            S::Failed,
            Some("turn failed"),
            None,
        )
        .unwrap();
    let t = store
        .retry(&id, PeerId::from_static("codex"), Some("by hand"))
        .unwrap();
    assert_eq!(
        (t.previous, t.delivery.state, t.changed),
        (S::Failed, S::Queued, true)
    );
    assert_eq!(t.delivery.turn_id, None);
    assert_eq!(t.delivery.attempts, 1);
    assert_eq!(
        store.unacked_count(PeerId::from_static("codex")).unwrap(),
        1
    );
    let t = store
        .transition(
            &id,
            PeerId::from_static("codex"),
            S::Started,
            None,
            Some("turn-2"),
        )
        .unwrap();
    assert_eq!(t.delivery.attempts, 2);
    let log = store.delivery_log(&id).unwrap();
    assert_eq!(log.last().map(|e| e.state), Some(S::Started));
    assert_eq!(log[3].detail.as_deref(), Some("by hand"));
}

#[test]
fn pending_is_in_seq_order_per_recipient() {
    let (_dir, mut store) = temp_store();
    let mut for_claude = Vec::new();
    for i in 0..10 {
        for_claude.push(insert(
            &mut store,
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            &format!("c{i}"),
        ));
        insert(
            &mut store,
            PeerId::from_static("claude"),
            PeerId::from_static("codex"),
            &format!("x{i}"),
        );
    }
    store
        .transition(
            &for_claude[2],
            PeerId::from_static("claude"),
            S::Acknowledged,
            None,
            None,
        )
        .unwrap();
    store
        .transition(
            &for_claude[5],
            PeerId::from_static("claude"),
            S::Failed,
            None,
            None,
        )
        .unwrap();
    store
        .transition(
            &for_claude[7],
            PeerId::from_static("claude"),
            S::Held,
            Some("governor"),
            None,
        )
        .unwrap();
    store
        .transition(
            &for_claude[0],
            PeerId::from_static("claude"),
            S::Pushed,
            None,
            None,
        )
        .unwrap();
    let pending = store
        .pending_for(PeerId::from_static("claude"), 100)
        .unwrap();
    let ids: Vec<&str> = pending.iter().map(|p| p.message.id.as_str()).collect();
    let expected: Vec<&str> = for_claude
        .iter()
        .enumerate()
        .filter(|(i, _)| ![2, 5].contains(i))
        .map(|(_, id)| id.as_str())
        .collect();
    assert_eq!(ids, expected);
    assert!(
        pending
            .windows(2)
            .all(|w| w[0].message.seq < w[1].message.seq)
    );
    assert!(
        pending
            .iter()
            .all(|p| p.message.id == p.delivery.message_id)
    );
    assert_eq!(pending[0].delivery.state, S::Pushed);
    assert_eq!(pending[5].delivery.state, S::Held);
    assert_eq!(
        store
            .pending_for(PeerId::from_static("claude"), 3)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        store.unacked_count(PeerId::from_static("claude")).unwrap(),
        8
    );
    assert_eq!(
        store.unacked_count(PeerId::from_static("codex")).unwrap(),
        10
    );
    assert!(store.pending_for(PeerId::HUMAN, 10).unwrap().is_empty());
}

#[test]
fn stats_and_log_catch_up() {
    let (_dir, mut store) = temp_store();
    let a = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "a",
    );
    let b = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "b",
    );
    let c = insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "c",
    );
    store
        .transition(
            &a,
            PeerId::from_static("claude"),
            S::Acknowledged,
            None,
            None,
        )
        .unwrap();
    store
        .transition(
            &c,
            PeerId::from_static("codex"),
            S::Started,
            None,
            Some("t"),
        )
        .unwrap();
    store
        .record_event("turn.started", serde_json::json!({"turn": "t"}))
        .unwrap();
    let stats = store.stats().unwrap();
    assert_eq!((stats.messages, stats.last_message_seq), (3, 3));
    assert_eq!((stats.events, stats.last_event_seq), (1, 1));
    assert_eq!(stats.by_state[&S::Acknowledged], 1);
    assert_eq!(stats.by_state[&S::Stored], 1);
    assert_eq!(stats.by_state[&S::Started], 1);
    let claude = &stats.by_recipient[&PeerId::from_static("claude")];
    assert_eq!((claude.total, claude.pending), (2, 1));
    let codex = &stats.by_recipient[&PeerId::from_static("codex")];
    assert_eq!((codex.total, codex.pending), (1, 1));
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["by_recipient"]["claude"]["by_state"]["stored"], 1);

    let all = store.delivery_log_after(0, 100).unwrap();
    assert_eq!(all.len(), 5);
    let tail = store.delivery_log_after(all[2].seq, 100).unwrap();
    assert_eq!(
        tail.iter()
            .map(|e| e.message_id.as_str())
            .collect::<Vec<_>>(),
        [a.as_str(), c.as_str()]
    );
    assert!(store.deliveries_for(&b).unwrap()[0].state == S::Stored);
}
