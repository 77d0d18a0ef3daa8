//! The enums' string forms (SQL, serde, `FromStr`) agree, and the JSON shapes other
//! modules rely on are pinned.

use crate::store::DeliveryModel;
use std::str::FromStr;

use serde_json::json;

use super::super::{Delivery, DeliveryState, Inserted, Message, MessageKind, OnBusy, PeerId};

#[test]
fn string_forms_round_trip_and_match_serde() {
    for a in [
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        PeerId::HUMAN,
        PeerId::ABG,
    ] {
        assert_eq!(PeerId::from_str(a.as_str()), Ok(a));
        assert_eq!(serde_json::to_value(a).unwrap(), json!(a.to_string()));
    }
    for s in DeliveryState::ALL {
        assert_eq!(DeliveryState::from_str(s.as_str()), Ok(s));
        assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
    }
    for p in [OnBusy::Queue, OnBusy::Steer, OnBusy::Interrupt] {
        assert_eq!(OnBusy::from_str(p.as_str()), Ok(p));
        assert_eq!(serde_json::to_value(p).unwrap(), json!(p.as_str()));
    }
    for k in [MessageKind::Chat, MessageKind::Notice] {
        assert_eq!(MessageKind::from_str(k.as_str()), Ok(k));
    }
    assert_eq!(
        PeerId::from_str("Claude"),
        Err(crate::store::peer_id::PeerIdError::Syntax("Claude".into()))
    );
    assert!(DeliveryState::from_str("delivered").is_err());
}

#[test]
fn terminal_states_and_the_sql_filter_agree() {
    let active: Vec<String> = DeliveryState::ALL
        .into_iter()
        .filter(|s| !s.is_terminal())
        .map(|s| format!("'{s}'"))
        .collect();
    assert_eq!(DeliveryState::ACTIVE_SQL, format!("({})", active.join(",")));
    // The first state of each model (Claude's push, Codex's turn).
    assert_eq!(DeliveryModel::Push.initial(), DeliveryState::Stored);
    assert_eq!(DeliveryModel::Turn.initial(), DeliveryState::Queued);
    for model in DeliveryModel::ALL {
        let initial = model.initial();
        assert!(model.applies(initial) && !initial.is_terminal());
    }
}

#[test]
fn json_shapes_are_stable() {
    let message = Message {
        seq: 7,
        id: "m_00000000000000ab".into(),
        from: PeerId::from_static("codex"),
        to: PeerId::from_static("claude"),
        body: "hi".into(),
        kind: MessageKind::Chat,
        created_ms: 1,
        thread_id: Some("thr".into()),
        turn_id: None,
        source_item_id: Some("item".into()),
        in_reply_to: None,
        idempotency_key: None,
        on_busy: Some(OnBusy::Queue),
        meta: json!({"k": 1}),
    };
    assert_eq!(
        serde_json::to_value(Inserted::Duplicate(message.clone())).unwrap(),
        json!({
            "outcome": "duplicate",
            "message": {
                "seq": 7, "id": "m_00000000000000ab", "from": "codex", "to": "claude",
                "body": "hi", "kind": "chat", "created_ms": 1, "thread_id": "thr",
                "turn_id": null, "source_item_id": "item", "in_reply_to": null,
                "idempotency_key": null, "on_busy": "queue", "meta": {"k": 1}
            }
        })
    );
    let delivery = Delivery {
        message_id: message.id,
        recipient: PeerId::from_static("claude"),
        state: DeliveryState::Pushed,
        reason: None,
        detail: None,
        turn_id: None,
        attempts: 1,
        updated_ms: 2,
    };
    assert_eq!(
        serde_json::to_value(&delivery).unwrap(),
        json!({
            "message_id": "m_00000000000000ab", "recipient": "claude", "state": "pushed",
            "detail": null, "turn_id": null, "attempts": 1, "updated_ms": 2
        })
    );
}

#[test]
fn attempts_count_hand_offs_to_the_transport() {
    use DeliveryState as S;
    let table = [
        (S::Stored, S::Pushed, true),
        (S::Pushed, S::Pushed, true),
        (S::Pushed, S::Seen, false),
        (S::Queued, S::Started, true),
        (S::Queued, S::Steering, true),
        (S::Steering, S::Started, false),
        (S::Interrupting, S::Started, false),
        (S::Started, S::Started, false),
        (S::Held, S::Started, true),
        (S::Started, S::Completed, false),
        (S::Queued, S::Held, false),
    ];
    for (from, to, attempt) in table {
        assert_eq!(to.is_new_attempt(from), attempt, "{from} -> {to}");
    }
}

#[test]
fn reasons_and_models_have_one_string_form_and_are_recorded() {
    use super::super::{DeliveryModel, DeliveryReason, Note};
    for r in DeliveryReason::ALL {
        assert_eq!(DeliveryReason::from_str(r.as_str()), Ok(r));
        assert_eq!(serde_json::to_value(r).unwrap(), json!(r.as_str()));
        assert!(!r.label().is_empty());
    }
    for m in DeliveryModel::ALL {
        assert_eq!(DeliveryModel::from_str(m.as_str()), Ok(m));
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.as_str()));
        assert!(m.applies(m.initial()) && !m.initial().is_terminal());
    }
    let (_dir, mut store) = super::temp_store();
    let id = super::insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "r",
    );
    let note = Note::new(DeliveryReason::BehindTurn, "waiting for turn t to end");
    let t = store
        .transition(
            &id,
            PeerId::from_static("codex"),
            DeliveryState::Queued,
            note,
            None,
        )
        .unwrap();
    assert!(t.delivery.has_note(&note));
    assert_eq!(store.deliveries_for(&id).unwrap()[0], t.delivery);
    let log = store.delivery_log(&id).unwrap();
    assert_eq!(log.last().unwrap().reason, Some(DeliveryReason::BehindTurn));
    let t = store
        .transition(
            &id,
            PeerId::from_static("codex"),
            DeliveryState::Held,
            DeliveryReason::GovernorHold,
            None,
        )
        .unwrap();
    assert_eq!(t.delivery.hold(), Some(DeliveryReason::GovernorHold));
    assert_eq!(t.delivery.detail, None);
    assert_eq!(
        serde_json::to_value(&t.delivery).unwrap()["reason"],
        json!("governor_hold")
    );
}
