//! The queue look with a mark: oldest first, skips without losing its place, new inserts
//! and rewinds below the mark (retry, release from held) are still seen.

use super::super::{Agent, DeliveryState as S, QueueMark};
use super::{insert, temp_store};

const WAITING: [S; 2] = [S::Stored, S::Held];

fn look(store: &super::super::Store, mark: &mut QueueMark, skip: &[&str]) -> Vec<String> {
    store
        .pending_in(Agent::Claude, &WAITING, 100, mark, |id| skip.contains(&id))
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
        .map(|i| insert(&mut store, Agent::Codex, Agent::Claude, &format!("m{i}")))
        .collect();
    // A message to Codex in between is not Claude's.
    insert(&mut store, Agent::Claude, Agent::Codex, "other way");
    assert_eq!(look(&store, &mut mark, &[]), ids);
    // Skipped rows are left out but keep the mark where it is.
    assert_eq!(look(&store, &mut mark, &[&ids[0], &ids[1]]), &ids[2..]);
    // The first three are pushed: the mark moves up past them.
    store
        .transition_many(&ids[..3], Agent::Claude, S::Pushed, None, |s| {
            s == S::Stored
        })
        .unwrap();
    assert_eq!(look(&store, &mut mark, &[]), &ids[3..]);
    let late = insert(&mut store, Agent::Human, Agent::Claude, "late");
    let mut want = ids[3..].to_vec();
    want.push(late.clone());
    assert_eq!(look(&store, &mut mark, &[]), want);
    // A retry puts an old message back below the mark: the next look sees it, in order.
    store.retry(&ids[1], Agent::Claude, Some("again")).unwrap();
    let mut want = vec![ids[1].clone()];
    want.extend(ids[3..].iter().cloned());
    want.push(late.clone());
    assert_eq!(look(&store, &mut mark, &[]), want);
    // Everything finished: nothing waits, and a message after that is found.
    let all: Vec<String> = want.clone();
    store
        .transition_many(&all, Agent::Claude, S::Acknowledged, None, |s| {
            !s.is_terminal()
        })
        .unwrap();
    assert!(look(&store, &mut mark, &[]).is_empty());
    let next = insert(&mut store, Agent::Human, Agent::Claude, "next");
    assert_eq!(look(&store, &mut mark, &[]), std::slice::from_ref(&next));
    // Held and released again (governor or budget): seen as waiting throughout.
    store
        .transition(
            &next,
            Agent::Claude,
            S::Held,
            Some("governor: paused"),
            None,
        )
        .unwrap();
    assert_eq!(look(&store, &mut mark, &[]), std::slice::from_ref(&next));
    store
        .transition(&next, Agent::Claude, S::Stored, Some("released"), None)
        .unwrap();
    assert_eq!(look(&store, &mut mark, &[]), [next]);
}
