//! Reading a recipient's waiting messages in seq order, cheaply and repeatedly. Why it
//! exists: the Claude link looks at its queue on every wake-up, and during a burst that
//! queue holds thousands of rows. Selecting them through the `(recipient, state)` index
//! and sorting by seq costs time in proportion to the whole queue (≈ 10 ms for 5,000
//! rows here), on every look. A reader's [`QueueMark`] remembers a seq below which no
//! waiting delivery exists, so the next look walks the messages from there in seq order
//! and stops after `limit` hits, without a sort.
//!
//! The mark stays right because waiting rows appear only as fresh inserts (above every
//! seq ever read) or through a transition back into a waiting state, which the store
//! counts (`Store::rewinds`): a mark taken before such a rewind is not trusted, and the
//! look falls back to the index-and-sort query that sees everything.

use rusqlite::{Row, Statement};

use super::error::Result;
use super::rows::{self, DELIVERY_COLUMNS, MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS};
use super::types::{DeliveryState, Pending, Transitioned};
use super::{PeerId, Store, sql_limit};

/// A reader's place in one recipient's queue: no delivery in the states it reads has a
/// seq at or below `below` (as of `rewinds`). The default mark trusts nothing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueMark {
    below: i64,
    rewinds: Option<u64>,
}

impl Store {
    /// Count a delivery moved back into a waiting state (it may sit below a reader's mark).
    pub(super) fn note_rewind(&mut self, t: &Transitioned) {
        let initial = self
            .delivery_model(t.delivery.recipient.as_str())
            .map(|m| m.initial());
        let waiting = initial == Some(t.delivery.state) || t.delivery.state == DeliveryState::Held;
        if t.changed && waiting {
            self.rewinds += 1;
        }
    }

    /// Deliveries to `recipient` in one of `states`, oldest first, at most `limit` rows
    /// looked at: the Claude link's look for what it has not pushed yet. Rows whose
    /// message id `skip` accepts are left out without being decoded (the link skips what
    /// it already handed over) but count against `limit`. `mark` is the caller's place
    /// in the queue (see the module docs); pass the same one on every look.
    pub fn pending_in(
        &self,
        recipient: PeerId,
        states: &[DeliveryState],
        limit: usize,
        mark: &mut QueueMark,
        mut skip: impl FnMut(&str) -> bool,
    ) -> Result<Vec<Pending>> {
        let trusted = mark.rewinds == Some(self.rewinds);
        let [(_, walk), (_, sorted)] = queue_sql(recipient, states, limit);
        let mut stmt = self
            .conn
            .prepare_cached(if trusted { &walk } else { &sorted })?;
        let below = if trusted { mark.below } else { 0 };
        let (out, first) = collect(&mut stmt, below, &mut skip)?;
        mark.below = match first {
            Some(seq) => seq - 1,
            // Nothing waits: whatever waits later is inserted above the newest message.
            None => self
                .conn
                .query_row("SELECT COALESCE(MAX(seq), 0) FROM messages", [], |r| {
                    r.get(0)
                })?,
        };
        mark.rewinds = Some(self.rewinds);
        Ok(out)
    }
}

// Constant SQL for the hot queue queries. SQLite re-prepares a cached
// statement whenever a parameter is re-bound that its plan depended on,
// and it counts as such a `LIMIT ?` (its value sizes the sorter) and a
// `column = ?` in a join (constant propagation). rusqlite re-binds on
// every use, so every queue read was parsed and planned anew: a third of
// the daemon's CPU on the relay path. The recipient and the limit come
// from abg itself (an enum, a number), so writing them into the SQL is
// safe, and each combination stays prepared once.

/// The queue look's two statements: (true, walking the messages from the
/// mark in seq order, no sort) for a trusted mark, (false, sorted) for a
/// fresh one. `?1` is the seq to start above. Recipient and limit are
/// literals, not parameters (see above).
pub(super) fn queue_sql(
    recipient: PeerId,
    states: &[DeliveryState],
    limit: usize,
) -> [(bool, String); 2] {
    let list = state_list(states);
    let select = format!("SELECT {MESSAGE_COLUMNS}, {DELIVERY_COLUMNS}");
    let (r, lim) = (recipient.as_str(), sql_limit(limit));
    [
        (
            true,
            format!(
                "{select} FROM messages m CROSS JOIN deliveries d \
                 ON d.message_id = m.id AND d.recipient = '{r}' \
                 WHERE m.seq > ?1 AND d.state IN ({list}) ORDER BY m.seq LIMIT {lim} "
            ),
        ),
        (
            false,
            format!(
                "{select} FROM deliveries d JOIN messages m ON m.id = d.message_id \
                 WHERE d.recipient = '{r}' AND d.state IN ({list}) AND m.seq > ?1 \
                 ORDER BY m.seq LIMIT {lim} "
            ),
        ),
    ]
}

/// `'a','b'` for an `IN (…)` list of states (names from the enum).
pub(super) fn state_list(states: &[DeliveryState]) -> String {
    states
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect::<Vec<_>>()
        .join(",")
}

/// Run a queue query; returns the rows kept and the lowest seq looked at.
fn collect(
    stmt: &mut Statement<'_>,
    below: i64,
    skip: &mut impl FnMut(&str) -> bool,
) -> Result<(Vec<Pending>, Option<i64>)> {
    let mut rows = stmt.query([below])?;
    let mut out = Vec::new();
    let mut first = None;
    while let Some(row) = rows.next()? {
        first.get_or_insert(row.get::<_, i64>(0)?);
        if skip(id_of(row)?) {
            continue;
        }
        out.push(Pending {
            message: rows::message(row)?,
            delivery: rows::delivery_at(row, MESSAGE_COLUMN_COUNT)?,
        });
    }
    Ok((out, first))
}

/// The message id of a queue row (column 1 of `MESSAGE_COLUMNS`), without decoding the rest.
fn id_of<'r>(row: &'r Row<'_>) -> Result<&'r str> {
    Ok(row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)
}
