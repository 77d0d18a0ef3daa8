//! The approvals inbox in the store: a replayed request is one row, the
//! first answer wins exactly once (also between two connections racing),
//! only pending rows move, and a v4 store gains the table keeping its data.

use std::sync::{Arc, Barrier};

use rusqlite::Connection;
use serde_json::json;

use super::super::schema::MIGRATIONS;
use super::super::{
    AnsweredVia, ApprovalKind, ApprovalState, PeerId, Resolution, Store, StoreError,
};
use super::temp_store;
use crate::store::types::NewApproval;

const CODEX: PeerId = PeerId::from_static("codex");

fn request(key: &str) -> NewApproval {
    NewApproval {
        peer: CODEX,
        request_key: key.into(),
        kind: ApprovalKind::Command,
        detail: json!({"command": "touch x", "cwd": "/w", "reason": "probe"}),
        options: Some(vec!["approve".into(), "deny".into()]),
        expires_ms: None,
    }
}

fn approve() -> Resolution {
    Resolution {
        to: ApprovalState::Approved,
        decision: Some(json!({"decision": "approve"})),
        by: Some("human".into()),
        via: AnsweredVia::Cli,
    }
}

#[test]
fn a_replayed_request_is_the_same_row() {
    let (_dir, mut store) = temp_store();
    let (first, fresh) = store.insert_approval(&request("7:thread")).unwrap();
    assert!(fresh);
    assert!(
        first.id.starts_with("a_") && first.id.len() == 18,
        "{}",
        first.id
    );
    assert_eq!(first.state, ApprovalState::Pending);
    let (again, fresh) = store.insert_approval(&request("7:thread")).unwrap();
    assert!(!fresh);
    assert_eq!(again, first);
    let (other, fresh) = store.insert_approval(&request("8:thread")).unwrap();
    assert!(fresh);
    assert!(other.id[..12] >= first.id[..12], "ids start with the time");
    assert_eq!(store.pending_approvals().unwrap(), 2);
    // Even after an answer a replay does not reopen the request.
    store.resolve_approval(&first.id, &approve()).unwrap();
    let (replayed, fresh) = store.insert_approval(&request("7:thread")).unwrap();
    assert!(!fresh);
    assert_eq!(replayed.state, ApprovalState::Approved);
    assert_eq!(store.pending_approvals().unwrap(), 1);
    let unknown = NewApproval {
        peer: PeerId::from_static("nobody"),
        ..request("1")
    };
    assert!(matches!(
        store.insert_approval(&unknown),
        Err(StoreError::InvalidInput(_))
    ));
}

#[test]
fn only_pending_rows_move_and_a_late_answer_is_told_the_first() {
    let (_dir, mut store) = temp_store();
    let (row, _) = store.insert_approval(&request("1")).unwrap();
    let back_to_pending = Resolution {
        to: ApprovalState::Pending,
        ..approve()
    };
    assert!(matches!(
        store.resolve_approval(&row.id, &back_to_pending),
        Err(StoreError::InvalidInput(_))
    ));
    let done = store.resolve_approval(&row.id, &approve()).unwrap();
    assert_eq!(done.state, ApprovalState::Approved);
    assert_eq!(done.answered_via, Some(AnsweredVia::Cli));
    assert_eq!(done.answered_by.as_deref(), Some("human"));
    assert!(done.answered_ms.is_some());
    let deny = Resolution {
        to: ApprovalState::Denied,
        ..approve()
    };
    let err = store.resolve_approval(&row.id, &deny).unwrap_err();
    match &err {
        StoreError::ApprovalClosed { state, how, .. } => {
            assert_eq!(*state, ApprovalState::Approved);
            assert!(how.contains("approved via cli by human at"), "{how}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.get_approval(&row.id).unwrap().unwrap(), done);
    // Abandoning needs the state the caller saw.
    assert!(matches!(
        store.abandon_approval(&row.id, ApprovalState::Denied, "x"),
        Err(StoreError::ApprovalClosed { .. })
    ));
    let gone = store
        .abandon_approval(&row.id, ApprovalState::Approved, "adapter gone")
        .unwrap();
    assert_eq!(gone.state, ApprovalState::Abandoned);
    assert_eq!(gone.decision.unwrap()["error"], "adapter gone");
    assert!(matches!(
        store.resolve_approval("a_nope", &approve()),
        Err(StoreError::NotFound { .. })
    ));
}

#[test]
fn two_connections_racing_answer_exactly_once() {
    let (dir, mut store) = temp_store();
    let path = dir.path().join("store.db");
    for round in 0..20 {
        let (row, _) = store
            .insert_approval(&request(&format!("r{round}")))
            .unwrap();
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = [ApprovalState::Approved, ApprovalState::Denied]
            .into_iter()
            .map(|to| {
                let (barrier, path, id) = (Arc::clone(&barrier), path.clone(), row.id.clone());
                std::thread::spawn(move || {
                    let mut s = Store::open(&path).unwrap();
                    barrier.wait();
                    s.resolve_approval(&id, &Resolution { to, ..approve() })
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let won: Vec<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        let lost = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        assert!(
            matches!(lost, StoreError::ApprovalClosed { state, .. } if *state == won[0].state),
            "{lost:?}"
        );
        assert_eq!(
            store.get_approval(&row.id).unwrap().unwrap().state,
            won[0].state
        );
    }
}

#[test]
fn listing_puts_pending_first_oldest_first() {
    let (_dir, mut store) = temp_store();
    let ids: Vec<String> = (0..4)
        .map(|i| {
            store
                .insert_approval(&request(&i.to_string()))
                .unwrap()
                .0
                .id
        })
        .collect();
    store.resolve_approval(&ids[1], &approve()).unwrap();
    let all: Vec<String> = store
        .list_approvals(None, 10)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(
        all,
        [
            ids[0].clone(),
            ids[2].clone(),
            ids[3].clone(),
            ids[1].clone()
        ]
    );
    let pending = store
        .list_approvals(Some(ApprovalState::Pending), 2)
        .unwrap();
    assert_eq!(pending.len(), 2);
    assert_eq!(pending[0].id, ids[0]);
    let approved = store
        .list_approvals(Some(ApprovalState::Approved), 10)
        .unwrap();
    assert_eq!(approved.len(), 1);
}

#[test]
fn a_v4_store_gains_the_approvals_table_and_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    {
        let c = Connection::open(&path).unwrap();
        for (i, step) in MIGRATIONS[..4].iter().enumerate() {
            c.execute_batch(step).unwrap();
            c.pragma_update(None, "user_version", i as i64 + 1).unwrap();
        }
        c.pragma_update(None, "application_id", super::super::APPLICATION_ID)
            .unwrap();
        c.execute_batch(
            "INSERT INTO messages (id, from_agent, to_agent, body, created_ms) \
                 VALUES ('m_1', 'human', 'codex', 'kept', 1);
             INSERT INTO deliveries (message_id, recipient, state, updated_ms) \
                 VALUES ('m_1', 'codex', 'queued', 1);
             INSERT INTO events (ts_ms, kind, data) VALUES (2, 'turn.started', '{}');",
        )
        .unwrap();
    }
    let mut store = Store::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), 5);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.get_message("m_1").unwrap().unwrap().body, "kept");
    assert_eq!(store.events_after(0, 10).unwrap().len(), 1);
    let sql: Vec<(String, String)> = store
        .conn
        .prepare("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'approvals' AND sql IS NOT NULL ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let names: Vec<&str> = sql.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["approvals", "approvals_state"]);
    assert!(
        sql[0].1.contains("UNIQUE (peer, request_key)"),
        "{}",
        sql[0].1
    );
    assert!(sql[0].1.contains("REFERENCES peers(id)"), "{}", sql[0].1);
    assert_eq!(sql[1].1, "CREATE INDEX approvals_state ON approvals(state)");
    let (row, fresh) = store.insert_approval(&request("after")).unwrap();
    assert!(fresh && row.state == ApprovalState::Pending);
    // The CHECKs hold: a state or kind this build does not know is refused.
    assert!(
        store
            .conn
            .execute(
                "UPDATE approvals SET state = 'maybe' WHERE id = ?1",
                [&row.id]
            )
            .is_err()
    );
}
