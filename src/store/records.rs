//! Pair-level records beside the conversation: the event stream (turn boundaries,
//! commands, governor and budget decisions), JSON settings, and tombstones that make
//! one-shot actions idempotent across daemon restarts.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::Result;
use super::rows;
use super::types::{Event, Tombstone};
use super::{Store, now_ms, sql_limit};

impl Store {
    /// Append an event; it is durable when this returns.
    pub fn record_event(&mut self, kind: &str, data: serde_json::Value) -> Result<Event> {
        let ts_ms = now_ms();
        let text = serde_json::to_string(&data)?;
        self.conn
            .prepare_cached("INSERT INTO events (ts_ms, kind, data) VALUES (?1, ?2, ?3)")?
            .execute(params![ts_ms, kind, text])?;
        Ok(Event {
            seq: self.conn.last_insert_rowid(),
            ts_ms,
            kind: kind.to_owned(),
            data,
        })
    }

    /// Events with `seq > after_seq`, ascending.
    pub fn events_after(&self, after_seq: i64, limit: usize) -> Result<Vec<Event>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT seq, ts_ms, kind, data FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?
            .query_map(params![after_seq, sql_limit(limit)], rows::event)?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }

    /// The newest `limit` events with `seq < before_seq`, ascending.
    pub fn events_before(&self, before_seq: i64, limit: usize) -> Result<Vec<Event>> {
        let mut events = self
            .conn
            .prepare_cached(
                "SELECT seq, ts_ms, kind, data FROM events WHERE seq < ?1 ORDER BY seq DESC LIMIT ?2",
            )?
            .query_map(params![before_seq, sql_limit(limit)], rows::event)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        events.reverse();
        Ok(events)
    }

    /// A setting decoded from its stored JSON (`None` when unset).
    pub fn get_setting<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        let text: Option<String> = self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?
            .query_row([key], |r| r.get(0))
            .optional()?;
        Ok(text.map(|t| serde_json::from_str(&t)).transpose()?)
    }

    /// Store a setting as JSON, replacing any previous value.
    pub fn set_setting<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        let text = serde_json::to_string(value)?;
        self.conn
            .prepare_cached(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) \
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            )?
            .execute(params![key, text])?;
        Ok(())
    }

    /// Remove a setting; true if it existed.
    pub fn delete_setting(&mut self, key: &str) -> Result<bool> {
        let n = self
            .conn
            .prepare_cached("DELETE FROM settings WHERE key = ?1")?
            .execute([key])?;
        Ok(n > 0)
    }

    /// Record that the one-shot action `key` happened. True if this call recorded it,
    /// false if it was already recorded (the caller must then not act again). Record the
    /// tombstone in the same step that commits to the action, before performing it.
    pub fn tombstone_insert(&mut self, key: &str, data: serde_json::Value) -> Result<bool> {
        let text = serde_json::to_string(&data)?;
        let n = self
            .conn
            .prepare_cached(
                "INSERT INTO tombstones (key, created_ms, data) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(key) DO NOTHING",
            )?
            .execute(params![key, now_ms(), text])?;
        Ok(n == 1)
    }

    pub fn tombstone_get(&self, key: &str) -> Result<Option<Tombstone>> {
        Ok(self
            .conn
            .prepare_cached("SELECT key, created_ms, data FROM tombstones WHERE key = ?1")?
            .query_row([key], rows::tombstone)
            .optional()?)
    }
}
