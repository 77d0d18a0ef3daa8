//! Delivery state per (message, recipient): validated transitions with an append-only
//! history, the per-recipient queue of undelivered messages, and counters for status.

use rusqlite::{Connection, OptionalExtension, params};

use super::batch::write_tx;
use super::error::{Result, StoreError};
use super::rows::{self, DELIVERY_COLUMNS, LOG_COLUMNS, MESSAGE_COLUMN_COUNT, MESSAGE_COLUMNS};
use super::types::{
    Delivery, DeliveryLogEntry, DeliveryModel, DeliveryState, Note, PeerId, Pending, Stats,
    Transitioned,
};
use super::{Store, now_ms, sql_limit};

/// What a state change asks for.
#[derive(Clone, Copy)]
enum Change {
    /// A normal transition: the target must belong to the recipient's state machine and
    /// the current state must not be terminal.
    To(DeliveryState),
    /// An explicit retry: back to the recipient's initial state from any state.
    Retry,
}

/// A recipient's queue in `states_sql` (an `IN` list), oldest first.
/// Literals, not parameters: see the note on constant SQL in `queue`.
pub(super) fn pending_sql(recipient: PeerId, states_sql: &str, limit: usize) -> String {
    format!(
        "SELECT {MESSAGE_COLUMNS}, {DELIVERY_COLUMNS} FROM deliveries d \
         JOIN messages m ON m.id = d.message_id \
         WHERE d.recipient = '{}' AND d.state IN {states_sql} ORDER BY m.seq LIMIT {}",
        recipient.as_str(),
        sql_limit(limit)
    )
}

impl Store {
    /// Move a delivery to `new_state`, recording the `note` (reason and detail; a plain
    /// `Option<&str>` detail converts) and the log row. `turn_id`, when given, replaces
    /// the recorded turn; otherwise the previous one is kept.
    ///
    /// Errors with [`StoreError::InvalidTransition`] when `new_state` is not a state of
    /// `recipient`'s machine (its [`DeliveryModel`] in the `peers` table), or the delivery is already terminal (acknowledged, completed,
    /// failed) and `new_state` differs; repeating the terminal state is an idempotent no-op
    /// (`changed: false`). [`StoreError::NotFound`] when there is no such delivery.
    pub fn transition<'n>(
        &mut self,
        message_id: &str,
        recipient: PeerId,
        new_state: DeliveryState,
        note: impl Into<Note<'n>>,
        turn_id: Option<&str>,
    ) -> Result<Transitioned> {
        self.change(
            message_id,
            recipient,
            Change::To(new_state),
            note.into(),
            turn_id,
        )
    }

    /// Explicitly restart a delivery: back to its model's initial state (`stored` for
    /// push, `queued` for turn) from any state, terminal ones included; the recorded turn
    /// is cleared, attempts are kept.
    pub fn retry<'n>(
        &mut self,
        message_id: &str,
        recipient: PeerId,
        note: impl Into<Note<'n>>,
    ) -> Result<Transitioned> {
        self.change(message_id, recipient, Change::Retry, note.into(), None)
    }

    fn change(
        &mut self,
        message_id: &str,
        recipient: PeerId,
        change: Change,
        note: Note<'_>,
        turn_id: Option<&str>,
    ) -> Result<Transitioned> {
        let model = self.delivery_model(recipient.as_str());
        let tx = write_tx(&mut self.conn)?;
        let current =
            get_delivery(&tx, message_id, recipient)?.ok_or_else(|| StoreError::NotFound {
                what: "delivery",
                key: format!("{message_id} to {recipient}"),
            })?;
        let model = model.ok_or_else(|| cannot_receive(recipient))?;
        let t = apply(&tx, current, model, change, note, turn_id, now_ms())?;
        if t.changed {
            tx.commit()?;
            self.note_rewind(&t);
        }
        Ok(t)
    }

    /// Move the deliveries to `recipient` of each of `ids` to `to`, in order and in one
    /// transaction (one commit for a whole push report instead of one per id). An id is
    /// skipped when it has no delivery to `recipient` or `when` refuses its current state;
    /// the others follow [`Store::transition`]'s rules, and one refused transition
    /// ([`StoreError::InvalidTransition`]) rolls the whole batch back. Returns what moved,
    /// in the order of `ids`.
    pub fn transition_many<'n>(
        &mut self,
        ids: &[String],
        recipient: PeerId,
        to: DeliveryState,
        note: impl Into<Note<'n>>,
        when: impl Fn(DeliveryState) -> bool,
    ) -> Result<Vec<Transitioned>> {
        let note = note.into();
        let model = self.delivery_model(recipient.as_str());
        let tx = write_tx(&mut self.conn)?;
        let now = now_ms();
        let mut moved = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(current) = get_delivery(&tx, id, recipient)? else {
                continue;
            };
            if !when(current.state) {
                continue;
            }
            let model = model.ok_or_else(|| cannot_receive(recipient))?;
            moved.push(apply(&tx, current, model, Change::To(to), note, None, now)?);
        }
        if moved.iter().any(|t| t.changed) {
            tx.commit()?;
            for t in &moved {
                self.note_rewind(t);
            }
        }
        Ok(moved)
    }

    /// Messages not yet in a terminal state for `recipient` (held ones included), oldest
    /// first: the delivery worker's queue.
    pub fn pending_for(&self, recipient: PeerId, limit: usize) -> Result<Vec<Pending>> {
        let sql = pending_sql(recipient, DeliveryState::ACTIVE_SQL, limit);
        self.pending_rows(&sql)
    }

    /// The rows of a [`pending_sql`] query.
    fn pending_rows(&self, sql: &str) -> Result<Vec<Pending>> {
        Ok(self
            .conn
            .prepare_cached(sql)?
            .query_map([], |row| {
                Ok(Pending {
                    message: rows::message(row)?,
                    delivery: rows::delivery_at(row, MESSAGE_COLUMN_COUNT)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// [`Store::pending_for`] restricted to deliveries in one of `states`
    /// (the Codex worker skips turns already started: a long turn would
    /// otherwise be re-read and decoded on every wake-up).
    pub fn pending_in_states(
        &self,
        recipient: PeerId,
        states: &[DeliveryState],
        limit: usize,
    ) -> Result<Vec<Pending>> {
        let list = format!("({})", super::queue::state_list(states));
        let sql = pending_sql(recipient, &list, limit);
        self.pending_rows(&sql)
    }

    /// How many messages for `recipient` are not yet in a terminal state.
    pub fn unacked_count(&self, recipient: PeerId) -> Result<u64> {
        let sql = format!(
            "SELECT COUNT(*) FROM deliveries WHERE recipient = ?1 AND state IN {}",
            DeliveryState::ACTIVE_SQL
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([recipient], rows::count)?)
    }

    /// The delivery rows of one message (one per recipient).
    pub fn deliveries_for(&self, message_id: &str) -> Result<Vec<Delivery>> {
        let sql = format!(
            "SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.message_id = ?1 ORDER BY d.recipient"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map([message_id], rows::delivery)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Every transition of one message's deliveries, oldest first.
    pub fn delivery_log(&self, message_id: &str) -> Result<Vec<DeliveryLogEntry>> {
        let sql =
            format!("SELECT {LOG_COLUMNS} FROM delivery_log WHERE message_id = ?1 ORDER BY seq");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map([message_id], rows::log_entry)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Transitions with `seq > after_seq`, ascending: live state catch-up for the UI.
    pub fn delivery_log_after(
        &self,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<DeliveryLogEntry>> {
        let sql =
            format!("SELECT {LOG_COLUMNS} FROM delivery_log WHERE seq > ?1 ORDER BY seq LIMIT ?2");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![after_seq, sql_limit(limit)], rows::log_entry)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// Counts of messages, events, and deliveries per state and per recipient.
    pub fn stats(&self) -> Result<Stats> {
        let mut stats = Stats::default();
        (stats.messages, stats.last_message_seq) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM messages",
            [],
            |r| Ok((rows::count(r)?, r.get(1)?)),
        )?;
        (stats.events, stats.last_event_seq) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM events",
            [],
            |r| Ok((rows::count(r)?, r.get(1)?)),
        )?;
        let mut stmt = self.conn.prepare_cached(
            "SELECT recipient, state, COUNT(*) FROM deliveries GROUP BY recipient, state",
        )?;
        for row in stmt.query_map([], rows::state_count)? {
            let (recipient, state, n) = row?;
            *stats.by_state.entry(state).or_default() += n;
            let per = stats.by_recipient.entry(recipient).or_default();
            per.total += n;
            if !state.is_terminal() {
                per.pending += n;
            }
            *per.by_state.entry(state).or_default() += n;
        }
        Ok(stats)
    }
}

fn cannot_receive(recipient: PeerId) -> StoreError {
    StoreError::InvalidInput(format!("{recipient} cannot receive messages"))
}

/// Apply `change` to the delivery `current` (whose recipient takes messages by `model`)
/// inside the caller's transaction.
fn apply(
    conn: &Connection,
    current: Delivery,
    model: DeliveryModel,
    change: Change,
    note: Note<'_>,
    turn_id: Option<&str>,
    now: i64,
) -> Result<Transitioned> {
    let from = current.state;
    let recipient = current.recipient;
    let (to, attempts, new_turn) = match change {
        Change::To(to) => {
            if from == to && from.is_terminal() {
                return Ok(Transitioned {
                    previous: from,
                    delivery: current,
                    changed: false,
                });
            }
            check(&current, model, to)?;
            let attempts = current.attempts + u32::from(to.is_new_attempt(from));
            let turn = turn_id.map(str::to_owned).or(current.turn_id);
            (to, attempts, turn)
        }
        Change::Retry => (model.initial(), current.attempts, None),
    };
    let message_id = current.message_id;
    let Note { reason, detail } = note;
    conn.prepare_cached(
        "UPDATE deliveries SET state = ?3, detail = ?4, turn_id = ?5, attempts = ?6, \
         updated_ms = ?7, reason = ?8 WHERE message_id = ?1 AND recipient = ?2",
    )?
    .execute(params![
        message_id, recipient, to, detail, new_turn, attempts, now, reason
    ])?;
    conn.prepare_cached(
        "INSERT INTO delivery_log (message_id, recipient, state, detail, ts_ms, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![message_id, recipient, to, detail, now, reason])?;
    Ok(Transitioned {
        previous: from,
        delivery: Delivery {
            message_id,
            recipient,
            state: to,
            reason,
            detail: detail.map(str::to_owned),
            turn_id: new_turn,
            attempts,
            updated_ms: now,
        },
        changed: true,
    })
}

fn get_delivery(
    conn: &Connection,
    message_id: &str,
    recipient: PeerId,
) -> Result<Option<Delivery>> {
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d WHERE d.message_id = ?1 AND d.recipient = ?2"
    );
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![message_id, recipient], rows::delivery)
        .optional()?)
}

/// The transition rules (pure): the target must belong to the recipient's machine
/// (`model`), and a terminal state is left only through [`Store::retry`].
fn check(current: &Delivery, model: DeliveryModel, to: DeliveryState) -> Result<()> {
    let reason = if !model.applies(to) {
        "state does not apply to this recipient"
    } else if current.state.is_terminal() {
        "delivery already finished; retry it explicitly"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidTransition {
        message_id: current.message_id.clone(),
        recipient: current.recipient,
        from: current.state,
        to,
        reason,
    })
}
