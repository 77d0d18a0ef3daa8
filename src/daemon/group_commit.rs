//! Group commit for [`Core::insert`](super::core::Core::insert). Why it
//! exists: a durable SQLite commit costs far more than the rows it writes
//! (WAL frames for every page touched, indexes and full-text index
//! included; ≈ 0.2–0.3 ms on a small shared machine), so a burst of
//! messages arriving together would be paid one commit each. Instead,
//! every insert queues itself, then takes the store lock; whoever holds the
//! lock commits *everything queued so far* in one transaction and hands
//! each waiting caller its own result. A caller returns only after its
//! message is committed (nothing is acknowledged before it is durable), a
//! lone insert still commits at once (no timer, no added latency), and
//! one bad message fails alone: a group with a failure is rolled back and
//! its messages are committed one by one.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::error::CoreError;
use super::governor::judge::{self as governor, Judged};
use crate::store::Store;
use crate::store::types::{Inserted, NewMessage};

/// What one queued insert gets back: the stored (or duplicate) message
/// and, when new, the governor's verdict.
pub type Outcome = Result<(Inserted, Option<Judged>), CoreError>;

/// Inserts waiting for a commit, and the outcomes not yet picked up.
#[derive(Default)]
struct State {
    next: u64,
    waiting: Vec<(u64, NewMessage)>,
    done: HashMap<u64, Outcome>,
    /// Whether some caller is committing a group right now.
    committing: bool,
    /// The tickets of the group being committed.
    in_flight: Vec<u64>,
}

/// The group-commit queue of one daemon.
#[derive(Default)]
pub struct Queue {
    state: Mutex<State>,
    settled: Condvar,
}

impl Queue {
    /// Store `message` (in a group with whatever else is queued) and return
    /// its outcome once committed. `with_store` runs a closure on the
    /// locked store. Callers wait on the queue, not on the store lock, so a
    /// caller whose message someone else committed returns without taking
    /// the store lock at all, and the next committer finds every message
    /// that arrived meanwhile.
    pub fn submit(
        &self,
        message: &NewMessage,
        limit: Option<u32>,
        with_store: impl Fn(&mut dyn FnMut(&mut Store)),
    ) -> Outcome {
        let mut st = lock(&self.state);
        let ticket = st.next;
        st.next += 1;
        st.waiting.push((ticket, message.clone()));
        loop {
            if let Some(outcome) = st.done.remove(&ticket) {
                return outcome;
            }
            if st.committing {
                st = match self.settled.wait(st) {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
                continue;
            }
            st.committing = true;
            drop(st);
            let turn = Turn(self);
            // Take the group only once the store is ours: whatever arrived
            // while the store was busy joins this commit.
            let mut outcomes = Vec::new();
            with_store(&mut |s: &mut Store| {
                let group = {
                    let mut st = lock(&self.state);
                    st.in_flight = st.waiting.iter().map(|(t, _)| *t).collect();
                    std::mem::take(&mut st.waiting)
                };
                outcomes = commit(s, limit, group);
            });
            st = lock(&self.state);
            st.done.extend(outcomes);
            st.in_flight.clear();
            drop(st);
            drop(turn);
            st = lock(&self.state);
        }
    }
}

/// One caller's turn as committer: ends (and wakes the waiters) when
/// dropped. If the commit panicked, every message of its group that got no
/// outcome is answered with an error, so nobody waits forever.
struct Turn<'q>(&'q Queue);

impl Drop for Turn<'_> {
    fn drop(&mut self) {
        let mut st = lock(&self.0.state);
        for ticket in std::mem::take(&mut st.in_flight) {
            st.done.entry(ticket).or_insert_with(|| {
                Err(CoreError::Invalid(
                    "internal error while storing the message; nothing was stored for it, send it again"
                        .into(),
                ))
            });
        }
        st.committing = false;
        drop(st);
        self.0.settled.notify_all();
    }
}

/// Store and judge every message of `group` in one transaction and return
/// each outcome by ticket. Should any message fail, the group is rolled
/// back and each message is committed on its own, so it fails alone.
fn commit(
    store: &mut Store,
    limit: Option<u32>,
    group: Vec<(u64, NewMessage)>,
) -> Vec<(u64, Outcome)> {
    if group.len() > 1 {
        let together = store.batch(|s| -> Result<Vec<Outcome>, CoreError> {
            let mut governor = governor::StateCache::default();
            let outcomes = group
                .iter()
                .map(|(_, message)| store_one(s, limit, message, &mut governor).map(Ok))
                .collect::<Result<Vec<_>, _>>()?;
            governor.flush(s)?;
            Ok(outcomes)
        });
        if let Ok(outcomes) = together {
            return group.iter().map(|(t, _)| *t).zip(outcomes).collect();
        }
    }
    group
        .iter()
        .map(|(t, message)| {
            let one = store.batch(|s| {
                let mut governor = governor::StateCache::default();
                let outcome = store_one(s, limit, message, &mut governor)?;
                governor.flush(s)?;
                Ok(outcome)
            });
            (*t, one)
        })
        .collect()
}

/// Store `message` and have the governor judge it (inside an open batch).
fn store_one(
    s: &mut Store,
    limit: Option<u32>,
    message: &NewMessage,
    governor: &mut governor::StateCache,
) -> Result<(Inserted, Option<Judged>), CoreError> {
    let inserted = s.insert_message(message)?;
    let judged = match &inserted {
        Inserted::New(m) => Some(governor::judge_cached(s, limit, m, governor)?),
        Inserted::Duplicate(_) => None,
    };
    Ok((inserted, judged))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::types::PeerId;

    fn store() -> (tempfile::TempDir, Arc<Mutex<Store>>) {
        let dir = tempfile::tempdir().expect("tmp");
        let store = Store::open(&dir.path().join("s.db")).expect("open");
        (dir, Arc::new(Mutex::new(store)))
    }

    fn submit(q: &Queue, s: &Mutex<Store>, m: &NewMessage) -> Outcome {
        q.submit(m, None, |f| f(&mut lock(s)))
    }

    #[test]
    fn concurrent_inserts_are_all_stored_once_each_in_each_senders_order() {
        let (_d, s) = store();
        let q = Arc::new(Queue::default());
        let senders: Vec<_> = (0..8)
            .map(|p| {
                let (q, s) = (Arc::clone(&q), Arc::clone(&s));
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let m = NewMessage::new(
                                PeerId::HUMAN,
                                PeerId::from_static("claude"),
                                format!("{p}-{i}"),
                            );
                            let (inserted, judged) = submit(&q, &s, &m).expect("stored");
                            assert!(judged.is_some());
                            inserted.into_message().seq
                        })
                        .collect::<Vec<i64>>()
                })
            })
            .collect();
        for h in senders {
            let seqs = h.join().expect("sender");
            assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
        }
        assert_eq!(lock(&s).messages_after(0, 1000).expect("read").len(), 400);
        assert!(lock(&q.state).done.is_empty() && lock(&q.state).waiting.is_empty());
    }

    #[test]
    fn a_bad_message_fails_alone_in_its_group() {
        let (_d, s) = store();
        let group = vec![
            (
                0,
                NewMessage::new(PeerId::HUMAN, PeerId::from_static("claude"), "ok"),
            ),
            (
                1,
                NewMessage::new(
                    PeerId::from_static("claude"),
                    PeerId::from_static("claude"),
                    "to itself",
                ),
            ),
            (
                2,
                NewMessage::new(PeerId::HUMAN, PeerId::from_static("codex"), "after"),
            ),
        ];
        let out = commit(&mut lock(&s), None, group);
        assert!(out[0].1.is_ok() && out[1].1.is_err() && out[2].1.is_ok());
        let bodies: Vec<String> = lock(&s)
            .messages_after(0, 10)
            .expect("read")
            .into_iter()
            .map(|m| m.body)
            .collect();
        assert_eq!(bodies, ["ok", "after"]);
    }

    #[test]
    fn duplicates_within_one_group_are_found() {
        let (_d, s) = store();
        let m = NewMessage {
            idempotency_key: Some("k1".into()),
            ..NewMessage::new(
                PeerId::from_static("claude"),
                PeerId::from_static("codex"),
                "once",
            )
        };
        let mut out = commit(&mut lock(&s), None, vec![(0, m.clone()), (1, m)]).into_iter();
        let (first, _) = out.next().expect("a").1.expect("first");
        let (second, judged) = out.next().expect("b").1.expect("second");
        assert!(first.is_new() && !second.is_new() && judged.is_none());
        assert_eq!(first.into_message().id, second.into_message().id);
        let q = Queue::default();
        assert!(
            submit(
                &q,
                &s,
                &NewMessage::new(PeerId::HUMAN, PeerId::from_static("claude"), "x")
            )
            .is_ok()
        );
    }
}
