//! Message queries: exactly-once insertion (idempotency keys, source item ids) with the
//! first delivery row in the same transaction, transcript paging, and full-text search.

use rusqlite::{Connection, OptionalExtension, params};

use super::batch::write_tx;
use super::error::{Result, StoreError};
use super::peers::Peers;
use super::rows::{self, MESSAGE_COLUMNS};
use super::types::{Inserted, Message, NewMessage, PeerId};
use super::{Store, new_message_id, now_ms, sql_limit};

/// Search terms beyond this many are ignored.
pub const MAX_SEARCH_TERMS: usize = 32;

/// Longest accepted idempotency key or source item id, in bytes.
const MAX_KEY_LEN: usize = 256;

impl Store {
    /// Store a message and its first delivery row (in the initial state of the
    /// recipient's delivery model: `stored` for push, `queued` for turn) atomically. A message with the idempotency key or source item id of one
    /// already stored from the same sender is not written again: the stored one comes back
    /// as [`Inserted::Duplicate`].
    pub fn insert_message(&mut self, msg: &NewMessage) -> Result<Inserted> {
        let tx = write_tx(&mut self.conn)?;
        let inserted = insert_in(&tx, &self.peers, msg, now_ms())?;
        if tx.is_top() {
            super::fts::index_due(&tx)?;
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// [`Store::insert_message`] for many messages in one transaction: all are written or,
    /// on any error, none. Duplicates (also within the batch) are reported per message.
    pub fn insert_messages(&mut self, msgs: &[NewMessage]) -> Result<Vec<Inserted>> {
        let tx = write_tx(&mut self.conn)?;
        let now = now_ms();
        let inserted = msgs
            .iter()
            .map(|m| insert_in(&tx, &self.peers, m, now))
            .collect::<Result<Vec<_>>>()?;
        if tx.is_top() {
            super::fts::index_due(&tx)?;
        }
        tx.commit()?;
        Ok(inserted)
    }

    /// Whether `peer` has sent a message, or been sent one other than abg's
    /// notices: it takes part in this pair's conversation.
    pub fn has_conversed(&self, peer: PeerId) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS(SELECT 1 FROM messages WHERE from_agent = ?1 \
                 OR (to_agent = ?1 AND kind != 'notice'))",
            )?
            .query_row([peer.as_str()], |r| r.get(0))?)
    }

    pub fn get_message(&self, id: &str) -> Result<Option<Message>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.id = ?1");
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row([id], rows::message)
            .optional()?)
    }

    /// Up to `limit` messages with `seq < before_seq` (the newest ones when `None`), in
    /// ascending seq order: scrolling back through the transcript.
    pub fn messages_page(&self, before_seq: Option<i64>, limit: usize) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.seq < ?1 ORDER BY m.seq DESC LIMIT ?2"
        );
        let mut page = self
            .conn
            .prepare_cached(&sql)?
            .query_map(
                params![before_seq.unwrap_or(i64::MAX), sql_limit(limit)],
                rows::message,
            )?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        page.reverse();
        Ok(page)
    }

    /// Up to `limit` messages with `seq > after_seq`, ascending: catching up after a
    /// reconnect without duplicates.
    pub fn messages_after(&self, after_seq: i64, limit: usize) -> Result<Vec<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.seq > ?1 ORDER BY m.seq LIMIT ?2"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![after_seq, sql_limit(limit)], rows::message)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The first message (by seq) whose delivery to `recipient` became, or was steered
    /// into, turn `turn_id`: the message that started that turn (routing asks who it
    /// answers). Scans `recipient`'s deliveries; called once per answer.
    pub fn first_of_turn(&self, recipient: PeerId, turn_id: &str) -> Result<Option<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM deliveries d JOIN messages m ON m.id = d.message_id \
             WHERE d.recipient = ?1 AND d.turn_id = ?2 ORDER BY m.seq LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(params![recipient, turn_id], rows::message)
            .optional()?)
    }

    /// The newest chat message to `recipient` from another agent (not the human, not
    /// abg): whom a reply without an address answers by default.
    pub fn latest_from_agent(&self, recipient: PeerId) -> Result<Option<Message>> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.to_agent = ?1 \
             AND m.from_agent NOT IN (?2, ?3, ?1) AND m.kind = 'chat' ORDER BY m.seq DESC LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(
                params![recipient, PeerId::HUMAN, PeerId::ABG],
                rows::message,
            )
            .optional()?)
    }

    /// Full-text search over message bodies, best match first. Every whitespace-separated
    /// word of `query` is matched literally (a trailing `*` makes it a prefix), so any user
    /// input is safe; a query with no searchable word returns nothing.
    pub fn search(&mut self, query: &str, limit: usize) -> Result<Vec<Message>> {
        let Some(fts) = fts_query(query) else {
            return Ok(Vec::new());
        };
        // Messages stored since the last indexing batch (see `fts`).
        let tx = write_tx(&mut self.conn)?;
        super::fts::index_pending(&tx)?;
        tx.commit()?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages_fts JOIN messages m ON m.seq = messages_fts.rowid \
             WHERE messages_fts MATCH ?1 ORDER BY messages_fts.rank, m.seq DESC LIMIT ?2"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_map(params![fts, sql_limit(limit)], rows::message)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

/// Turn free user text into an FTS5 query that cannot be a syntax error: each word becomes
/// a quoted string (inner quotes doubled), implicitly ANDed; `word*` stays a prefix query.
/// Words without a letter or digit (`*`, `(`, `--`) carry no token and are dropped.
pub(crate) fn fts_query(input: &str) -> Option<String> {
    let terms: Vec<String> = input
        .split_whitespace()
        .filter_map(|raw| {
            let word = raw.trim_end_matches('*');
            if !word.chars().any(char::is_alphanumeric) {
                return None;
            }
            let quoted = format!("\"{}\"", word.replace('"', "\"\""));
            Some(if word.len() < raw.len() {
                quoted + "*"
            } else {
                quoted
            })
        })
        .take(MAX_SEARCH_TERMS)
        .collect();
    (!terms.is_empty()).then(|| terms.join(" "))
}

fn validate(peers: &Peers, msg: &NewMessage) -> Result<()> {
    if !peers.contains_key(msg.from.as_str()) {
        return Err(StoreError::InvalidInput(format!(
            "{} is not a peer of this pair",
            msg.from
        )));
    }
    if peers.get(msg.to.as_str()).copied().flatten().is_none() {
        return Err(StoreError::InvalidInput(format!(
            "messages can only be addressed to a peer that receives them, not {}",
            msg.to
        )));
    }
    if msg.from == msg.to {
        return Err(StoreError::InvalidInput(format!(
            "{} cannot send a message to itself",
            msg.from
        )));
    }
    for (name, value) in [
        ("idempotency_key", &msg.idempotency_key),
        ("source_item_id", &msg.source_item_id),
    ] {
        if let Some(v) = value
            && (v.is_empty() || v.len() > MAX_KEY_LEN)
        {
            return Err(StoreError::InvalidInput(format!(
                "{name} must be 1 to {MAX_KEY_LEN} bytes long"
            )));
        }
    }
    Ok(())
}

fn find_duplicate(conn: &Connection, msg: &NewMessage) -> Result<Option<Message>> {
    for (column, value) in [
        ("idempotency_key", &msg.idempotency_key),
        ("source_item_id", &msg.source_item_id),
    ] {
        let Some(value) = value else { continue };
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages m WHERE m.from_agent = ?1 AND m.{column} = ?2"
        );
        let found = conn
            .prepare_cached(&sql)?
            .query_row(params![msg.from, value], rows::message)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// A message id not yet in use (a collision of 64 random bits is only theoretical, but
/// costs one indexed lookup to rule out).
fn unused_id(conn: &Connection) -> Result<String> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM messages WHERE id = ?1")?;
    for _ in 0..8 {
        let id = new_message_id();
        if !stmt.exists([&id])? {
            return Ok(id);
        }
    }
    Err(StoreError::Setup(
        "could not draw an unused message id; is the random source broken?".to_owned(),
    ))
}

fn insert_in(conn: &Connection, peers: &Peers, msg: &NewMessage, now: i64) -> Result<Inserted> {
    validate(peers, msg)?;
    if let Some(existing) = find_duplicate(conn, msg)? {
        return Ok(Inserted::Duplicate(existing));
    }
    let initial = super::peers::model_of(peers, msg.to.as_str())?.initial();
    let id = unused_id(conn)?;
    let created_ms = msg.created_ms.unwrap_or(now);
    let meta = serde_json::to_string(&msg.meta)?;
    conn.prepare_cached(
        "INSERT INTO messages (id, from_agent, to_agent, body, kind, created_ms, thread_id, \
         turn_id, source_item_id, in_reply_to, idempotency_key, on_busy, meta) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        id,
        msg.from,
        msg.to,
        msg.body,
        msg.kind,
        created_ms,
        msg.thread_id,
        msg.turn_id,
        msg.source_item_id,
        msg.in_reply_to,
        msg.idempotency_key,
        msg.on_busy,
        meta,
    ])?;
    let seq = conn.last_insert_rowid();
    conn.prepare_cached(
        "INSERT INTO deliveries (message_id, recipient, state, attempts, updated_ms) \
         VALUES (?1, ?2, ?3, 0, ?4)",
    )?
    .execute(params![id, msg.to, initial, now])?;
    conn.prepare_cached(
        "INSERT INTO delivery_log (message_id, recipient, state, ts_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![id, msg.to, initial, now])?;
    Ok(Inserted::New(Message {
        seq,
        id,
        from: msg.from,
        to: msg.to,
        body: msg.body.clone(),
        kind: msg.kind,
        created_ms,
        thread_id: msg.thread_id.clone(),
        turn_id: msg.turn_id.clone(),
        source_item_id: msg.source_item_id.clone(),
        in_reply_to: msg.in_reply_to.clone(),
        idempotency_key: msg.idempotency_key.clone(),
        on_busy: msg.on_busy,
        meta: msg.meta.clone(),
    }))
}
