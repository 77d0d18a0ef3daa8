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

use rusqlite::{Row, Statement, params};

use super::error::Result;
use super::rows::{self, DELIVERY_COLUMNS, MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS};
use super::types::{DeliveryState, Pending, Transitioned};
use super::{Agent, Store, sql_limit};

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
        let waiting = DeliveryState::initial_for(t.delivery.recipient) == Some(t.delivery.state)
            || t.delivery.state == DeliveryState::Held;
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
        recipient: Agent,
        states: &[DeliveryState],
        limit: usize,
        mark: &mut QueueMark,
        mut skip: impl FnMut(&str) -> bool,
    ) -> Result<Vec<Pending>> {
        let list = states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(",");
        let select = format!("SELECT {MESSAGE_COLUMNS}, {DELIVERY_COLUMNS}");
        let trusted = mark.rewinds == Some(self.rewinds);
        let mut stmt = if trusted {
            // Walk the messages from the mark in seq order; no sort.
            self.conn.prepare_cached(&format!(
                "{select} FROM messages m CROSS JOIN deliveries d \
                 ON d.message_id = m.id AND d.recipient = ?1 \
                 WHERE m.seq > ?3 AND d.state IN ({list}) ORDER BY m.seq LIMIT ?2"
            ))?
        } else {
            self.conn.prepare_cached(&format!(
                "{select} FROM deliveries d JOIN messages m ON m.id = d.message_id \
                 WHERE d.recipient = ?1 AND d.state IN ({list}) AND m.seq > ?3 \
                 ORDER BY m.seq LIMIT ?2"
            ))?
        };
        let below = if trusted { mark.below } else { 0 };
        let (out, first) = collect(&mut stmt, recipient, limit, below, &mut skip)?;
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

/// Run a queue query; returns the rows kept and the lowest seq looked at.
fn collect(
    stmt: &mut Statement<'_>,
    recipient: Agent,
    limit: usize,
    below: i64,
    skip: &mut impl FnMut(&str) -> bool,
) -> Result<(Vec<Pending>, Option<i64>)> {
    let mut rows = stmt.query(params![recipient, sql_limit(limit), below])?;
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
