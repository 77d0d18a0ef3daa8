//! Batched writes: one transaction for many transitions (all-or-nothing, order kept,
//! skips), and `Store::batch` grouping different writes (commit together, roll back
//! together, also on a panic, nested batches as savepoints of the outer one).

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::super::{DeliveryState as S, PeerId, StoreError};
use super::{chat, insert, temp_store};

fn state(store: &super::super::Store, id: &str) -> S {
    store.deliveries_for(id).unwrap()[0].state
}

#[test]
fn transition_many_moves_in_order_and_skips_what_it_should() {
    let (_dir, mut store) = temp_store();
    let ids: Vec<String> = (0..5)
        .map(|i| {
            insert(
                &mut store,
                PeerId::from_static("codex"),
                PeerId::from_static("claude"),
                &format!("m{i}"),
            )
        })
        .collect();
    store
        .transition(
            &ids[1],
            PeerId::from_static("claude"),
            S::Acknowledged,
            None,
            None,
        )
        .unwrap();
    // An unknown id, a repeated id, one already finished: skipped, the rest move.
    let mut asked = ids.clone();
    asked.insert(2, "m_unknown".into());
    asked.push(ids[0].clone());
    let moved = store
        .transition_many(
            &asked,
            PeerId::from_static("claude"),
            S::Pushed,
            Some("push"),
            |s| s == S::Stored,
        )
        .unwrap();
    let moved_ids: Vec<&str> = moved
        .iter()
        .map(|t| t.delivery.message_id.as_str())
        .collect();
    assert_eq!(moved_ids, [&ids[0], &ids[2], &ids[3], &ids[4]]);
    assert!(moved.iter().all(|t| t.changed && t.previous == S::Stored));
    assert_eq!(state(&store, &ids[1]), S::Acknowledged);
    for id in [&ids[0], &ids[2], &ids[3], &ids[4]] {
        assert_eq!(state(&store, id), S::Pushed);
    }
    // The history of the batch is in the order asked.
    let log = store.delivery_log_after(0, 100).unwrap();
    let pushed: Vec<&str> = log
        .iter()
        .filter(|e| e.state == S::Pushed)
        .map(|e| e.message_id.as_str())
        .collect();
    assert_eq!(pushed, moved_ids);
    // Nothing left to move: an empty answer, no error.
    let again = store
        .transition_many(&ids, PeerId::from_static("claude"), S::Pushed, None, |s| {
            s == S::Stored
        })
        .unwrap();
    assert!(again.is_empty());
}

#[test]
fn transition_many_is_all_or_nothing() {
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
    store
        .transition(
            &b,
            PeerId::from_static("claude"),
            S::Acknowledged,
            None,
            None,
        )
        .unwrap();
    let before = store.delivery_log_after(0, 100).unwrap().len();
    // `a` could move, `b` is finished and `when` lets it through: refused, so
    // `a` must not have moved either.
    let err = store
        .transition_many(
            &[a.clone(), b.clone()],
            PeerId::from_static("claude"),
            S::Pushed,
            None,
            |_| true,
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidTransition { .. }), "{err}");
    assert_eq!(state(&store, &a), S::Stored);
    assert_eq!(store.delivery_log_after(0, 100).unwrap().len(), before);
}

#[test]
fn a_batch_commits_together_or_not_at_all() {
    let (_dir, mut store) = temp_store();
    let kept = store
        .batch(|s| -> Result<_, StoreError> {
            let m =
                s.insert_message(&chat(PeerId::HUMAN, PeerId::from_static("claude"), "kept"))?;
            s.set_setting("k", &1)?;
            // A nested batch commits with this one.
            s.batch(|s| s.record_event("inner", serde_json::json!(null)))?;
            Ok(m.into_message().id)
        })
        .unwrap();
    assert!(store.get_message(&kept).unwrap().is_some());
    assert_eq!(store.get_setting::<i32>("k").unwrap(), Some(1));
    assert_eq!(store.events_after(0, 10).unwrap().len(), 1);

    let err = store
        .batch(|s| -> Result<(), StoreError> {
            s.insert_message(&chat(PeerId::HUMAN, PeerId::from_static("claude"), "lost"))?;
            s.set_setting("k", &2)?;
            Err(StoreError::InvalidInput("no".into()))
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::InvalidInput(_)));
    assert_eq!(store.get_setting::<i32>("k").unwrap(), Some(1));
    assert_eq!(store.messages_after(0, 10).unwrap().len(), 1);

    // A failing nested batch undoes only its own writes; the outer one goes on.
    store
        .batch(|s| -> Result<(), StoreError> {
            let inner = s.batch(|s| -> Result<(), StoreError> {
                s.insert_message(&chat(
                    PeerId::HUMAN,
                    PeerId::from_static("claude"),
                    "inner, undone",
                ))?;
                s.set_setting("k", &3)?;
                Err(StoreError::InvalidInput("inner".into()))
            });
            assert!(inner.is_err());
            s.set_setting("k", &4)?;
            Ok(())
        })
        .unwrap();
    assert_eq!(store.get_setting::<i32>("k").unwrap(), Some(4));
    assert_eq!(store.messages_after(0, 10).unwrap().len(), 1);

    // A failing write inside a batch undoes only itself when the batch goes on.
    store
        .batch(|s| -> Result<(), StoreError> {
            let bad = chat(
                PeerId::from_static("claude"),
                PeerId::from_static("claude"),
                "to itself",
            );
            assert!(s.insert_message(&bad).is_err());
            s.insert_message(&chat(PeerId::HUMAN, PeerId::from_static("codex"), "after"))?;
            Ok(())
        })
        .unwrap();
    assert_eq!(store.messages_after(0, 10).unwrap().len(), 2);
}

#[test]
fn a_panicking_batch_rolls_back_and_the_store_stays_usable() {
    let (_dir, mut store) = temp_store();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let _ = store.batch(|s| -> Result<(), StoreError> {
            s.insert_message(&chat(PeerId::HUMAN, PeerId::from_static("claude"), "never"))?;
            panic!("boom");
        });
    }));
    assert!(caught.is_err());
    assert!(store.messages_after(0, 10).unwrap().is_empty());
    // Not stuck inside the abandoned transaction: a new write commits.
    let id = insert(
        &mut store,
        PeerId::HUMAN,
        PeerId::from_static("claude"),
        "after the panic",
    );
    let reopened = super::super::Store::open(store.path()).unwrap();
    assert!(reopened.get_message(&id).unwrap().is_some());
}

#[test]
fn messages_are_searchable_once_their_transaction_commits() {
    let (_dir, mut store) = temp_store();
    insert(
        &mut store,
        PeerId::HUMAN,
        PeerId::from_static("claude"),
        "alpha single",
    );
    store
        .batch(|s| -> Result<(), StoreError> {
            for i in 0..50 {
                s.insert_message(&chat(
                    PeerId::from_static("codex"),
                    PeerId::from_static("claude"),
                    &format!("beta {i}"),
                ))?;
            }
            Ok(())
        })
        .unwrap();
    // A rolled-back batch leaves neither messages nor index entries.
    let _ = store.batch(|s| -> Result<(), StoreError> {
        s.insert_message(&chat(
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            "gamma lost",
        ))?;
        Err(StoreError::InvalidInput("no".into()))
    });
    insert(
        &mut store,
        PeerId::HUMAN,
        PeerId::from_static("codex"),
        "delta after",
    );
    assert_eq!(store.search("alpha", 10).unwrap().len(), 1);
    assert_eq!(store.search("beta", 100).unwrap().len(), 50);
    assert!(store.search("gamma", 10).unwrap().is_empty());
    assert_eq!(store.search("delta", 10).unwrap().len(), 1);
    // The index agrees with its content table.
    let check = rusqlite::Connection::open(store.path()).unwrap();
    check
        .execute_batch("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        .unwrap();
}
