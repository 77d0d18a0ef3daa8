//! Schema and migrations. `PRAGMA user_version` records how many steps of [`MIGRATIONS`]
//! a file has; opening applies the missing ones, each in its own IMMEDIATE transaction
//! together with the version bump, and refuses files from a newer abg.
//!
//! Append new steps, never edit shipped ones. CHECK constraints mirror the Rust enums in
//! `types.rs`; adding a variant means a migration that rebuilds the table (tests insert
//! every variant, so a forgotten migration fails loudly).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::{Result, StoreError};

/// `PRAGMA application_id` of abg stores ("abg1"), so a foreign SQLite file is refused.
pub const APPLICATION_ID: i64 = 0x6162_6731;

/// Ordered migration steps; step `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// Schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const V1: &str = r#"
CREATE TABLE messages (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    from_agent      TEXT    NOT NULL CHECK (from_agent IN ('claude','codex','human','abg')),
    to_agent        TEXT    NOT NULL CHECK (to_agent IN ('claude','codex')),
    body            TEXT    NOT NULL,
    created_ms      INTEGER NOT NULL,
    thread_id       TEXT,
    turn_id         TEXT,
    source_item_id  TEXT,
    in_reply_to     TEXT,
    idempotency_key TEXT,
    on_busy         TEXT CHECK (on_busy IS NULL OR on_busy IN ('queue','steer','interrupt')),
    kind            TEXT    NOT NULL DEFAULT 'chat' CHECK (kind IN ('chat','notice')),
    meta            TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(meta))
);
CREATE UNIQUE INDEX messages_source_item ON messages(from_agent, source_item_id)
    WHERE source_item_id IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages(from_agent, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_thread ON messages(thread_id) WHERE thread_id IS NOT NULL;

CREATE TABLE deliveries (
    message_id TEXT    NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    recipient  TEXT    NOT NULL CHECK (recipient IN ('claude','codex')),
    state      TEXT    NOT NULL CHECK (state IN ('stored','pushed','seen','acknowledged',
                   'queued','steering','interrupting','started','completed','failed','held')),
    detail     TEXT,
    turn_id    TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (message_id, recipient)
) WITHOUT ROWID;
CREATE INDEX deliveries_recipient_state ON deliveries(recipient, state);

CREATE TABLE delivery_log (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT    NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    recipient  TEXT    NOT NULL,
    state      TEXT    NOT NULL,
    detail     TEXT,
    ts_ms      INTEGER NOT NULL
);
CREATE INDEX delivery_log_message ON delivery_log(message_id);

CREATE TABLE events (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    kind  TEXT    NOT NULL,
    data  TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(data))
);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL CHECK (json_valid(value))
) WITHOUT ROWID;

CREATE TABLE tombstones (
    key        TEXT PRIMARY KEY,
    created_ms INTEGER NOT NULL,
    data       TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(data))
) WITHOUT ROWID;

CREATE VIRTUAL TABLE messages_fts USING fts5(
    body,
    content = 'messages',
    content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, body) VALUES (new.seq, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
    INSERT INTO messages_fts(rowid, body) VALUES (new.seq, new.body);
END;
"#;

/// Quota readings (issue 7): one row per observation of an agent's window.
const V2: &str = r#"
CREATE TABLE readings (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    side        TEXT    NOT NULL CHECK (side IN ('claude','codex')),
    window      TEXT    NOT NULL CHECK (window IN ('five_hour','weekly')),
    used_pct    REAL    NOT NULL,
    resets_at   INTEGER,
    observed_ms INTEGER NOT NULL,
    source      TEXT    NOT NULL
);
CREATE INDEX readings_side_window ON readings(side, window, seq);
"#;

/// Full-text indexing once per transaction instead of once per message (see
/// `store::fts`): the insert trigger goes; which messages are indexed is
/// what FTS5's own `messages_fts_docsize` holds (one row per indexed
/// document), and the delete/update triggers touch the index only for rows
/// it holds.
const V3: &str = r#"
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN EXISTS (SELECT 1 FROM messages_fts_docsize WHERE id = old.seq) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;
DROP TRIGGER messages_fts_update;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
WHEN EXISTS (SELECT 1 FROM messages_fts_docsize WHERE id = old.seq) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
    INSERT INTO messages_fts(rowid, body) VALUES (new.seq, new.body);
END;
"#;

fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Refuse foreign or too-new files, then bring the schema to [`SCHEMA_VERSION`].
/// Returns the version found before migrating.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<i64> {
    check(conn, path)?;
    let found = user_version(conn)?;
    for (index, sql) in MIGRATIONS.iter().enumerate() {
        let target = index as i64 + 1;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another opener may have migrated meanwhile.
        let current = user_version(&tx)?;
        if current > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                found: current,
                supported: SCHEMA_VERSION,
            });
        }
        if current >= target {
            continue; // dropping `tx` rolls back the empty transaction
        }
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", target)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
        tracing::info!(version = target, "store schema migrated");
    }
    Ok(found)
}

/// Read-only checks: the file is ours (or blank) and not from a newer schema.
pub fn check(conn: &Connection, path: &Path) -> Result<()> {
    let application_id: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if application_id != 0 && application_id != APPLICATION_ID {
        return Err(StoreError::ForeignDatabase {
            path: path.to_path_buf(),
            application_id,
        });
    }
    let found = user_version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(())
}
