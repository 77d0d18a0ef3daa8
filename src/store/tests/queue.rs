//! The queue look with a mark: oldest first, skips without losing its place, new inserts
//! and rewinds below the mark (retry, release from held) are still seen.

use super::super::{DeliveryState as S, PeerId, QueueMark};
use super::{insert, temp_store};

const WAITING: [S; 2] = [S::Stored, S::Held];

fn look(store: &super::super::Store, mark: &mut QueueMark, skip: &[&str]) -> Vec<String> {
    store
        .pending_in(PeerId::from_static("claude"), &WAITING, 100, mark, |id| {
            skip.contains(&id)
        })
        .unwrap()
        .into_iter()
        .map(|p| p.message.id)
        .collect()
}

#[test]
fn the_mark_follows_the_queue_and_rewinds_are_seen() {
    let (_dir, mut store) = temp_store();
    let mut mark = QueueMark::default();
    assert!(look(&store, &mut mark, &[]).is_empty());
    let ids: Vec<String> = (0..6)
        .map(|i| {
            insert(
                &mut store,
                PeerId::from_static("codex"),
                PeerId::from_static("claude"),
                &format!("m{i}"),
            )
        })
        .collect();
    // A message to Codex in between is not Claude's.
    insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "other way",
    );
    assert_eq!(look(&store, &mut mark, &[]), ids);
    // Skipped rows are left out but keep the mark where it is.
    assert_eq!(look(&store, &mut mark, &[&ids[0], &ids[1]]), &ids[2..]);
    // The first three are pushed: the mark moves up past them.
    store
        .transition_many(
            &ids[..3],
            PeerId::from_static("claude"),
            S::Pushed,
            None,
            |s| s == S::Stored,
        )
        .unwrap();
    assert_eq!(look(&store, &mut mark, &[]), &ids[3..]);
    let late = insert(
        &mut store,
        PeerId::HUMAN,
        PeerId::from_static("claude"),
        "late",
    );
    let mut want = ids[3..].to_vec();
    want.push(late.clone());
    assert_eq!(look(&store, &mut mark, &[]), want);
    // A retry puts an old message back below the mark: the next look sees it, in order.
    store
        .retry(&ids[1], PeerId::from_static("claude"), Some("again"))
        .unwrap();
    let mut want = vec![ids[1].clone()];
    want.extend(ids[3..].iter().cloned());
    want.push(late.clone());
    assert_eq!(look(&store, &mut mark, &[]), want);
    // Everything finished: nothing waits, and a message after that is found.
    let all: Vec<String> = want.clone();
    store
        .transition_many(
            &all,
            PeerId::from_static("claude"),
            S::Acknowledged,
            None,
            |s| !s.is_terminal(),
        )
        .unwrap();
    assert!(look(&store, &mut mark, &[]).is_empty());
    let next = insert(
        &mut store,
        PeerId::HUMAN,
        PeerId::from_static("claude"),
        "next",
    );
    assert_eq!(look(&store, &mut mark, &[]), std::slice::from_ref(&next));
    // Held and released again (governor or budget): seen as waiting throughout.
    store
        .transition(
            &next,
            PeerId::from_static("claude"),
            S::Held,
            Some("governor: paused"),
            None,
        )
        .unwrap();
    assert_eq!(look(&store, &mut mark, &[]), std::slice::from_ref(&next));
    store
        .transition(
            &next,
            PeerId::from_static("claude"),
            S::Stored,
            Some("released"),
            None,
        )
        .unwrap();
    assert_eq!(look(&store, &mut mark, &[]), [next]);
}

/// The hot queue reads stay prepared: reading again does not make SQLite
/// parse and plan the statement anew (it did for every `LIMIT ?` and every
/// `column = ?` in a join, see the note on constant SQL in `store::queue`).
#[test]
fn queue_reads_are_not_re_prepared() {
    let (_dir, mut store) = temp_store();
    insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "one",
    );
    insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "two",
    );
    let reprepares = |store: &super::super::Store, sql: &str| {
        let stmt = store.conn.prepare_cached(sql).unwrap();
        // The very statement the reads ran (not a fresh one for a typo).
        assert!(
            stmt.get_status(rusqlite::StatementStatus::Run) >= 5,
            "{sql}"
        );
        stmt.get_status(rusqlite::StatementStatus::RePrepare)
    };
    let active = S::ACTIVE_SQL;
    let waiting = format!("({})", super::super::queue::state_list(&WAITING));
    let pending = super::super::deliveries::pending_sql(PeerId::from_static("codex"), active, 1000);
    let narrowed =
        super::super::deliveries::pending_sql(PeerId::from_static("codex"), &waiting, 1000);
    for _ in 0..5 {
        store
            .pending_for(PeerId::from_static("codex"), 1000)
            .unwrap();
        store
            .pending_in_states(PeerId::from_static("codex"), &WAITING, 1000)
            .unwrap();
        look(&store, &mut QueueMark::default(), &[]);
        let mut mark = QueueMark::default();
        look(&store, &mut mark, &[]);
        look(&store, &mut mark, &[]);
    }
    assert_eq!(reprepares(&store, &pending), 0);
    assert_eq!(reprepares(&store, &narrowed), 0);
    for (trusted, sql) in
        super::super::queue::queue_sql(PeerId::from_static("claude"), &WAITING, 100)
    {
        assert_eq!(reprepares(&store, &sql), 0, "trusted={trusted}: {sql}");
    }
}
