//! Schema and migrations. `PRAGMA user_version` records how many steps of [`MIGRATIONS`]
//! a file has; opening applies the missing ones, each in its own IMMEDIATE transaction
//! together with the version bump, and refuses files from a newer abg.
//!
//! Append new steps, never edit shipped ones. CHECK constraints mirror the Rust enums in
//! `types.rs`; adding a variant means a migration that rebuilds the table (tests insert
//! every variant, so a forgotten migration fails loudly). Delivery reasons have no CHECK
//! (a name the build does not know reads as none), so a new reason needs no migration.
//!
//! Foreign keys are off while steps run (a step may rebuild a table others reference,
//! and `PRAGMA foreign_keys` cannot change inside a transaction); each step checks them
//! (`PRAGMA foreign_key_check`) before it commits, and they are back on afterwards.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::{Result, StoreError};

/// `PRAGMA application_id` of abg stores ("abg1"), so a foreign SQLite file is refused.
pub const APPLICATION_ID: i64 = 0x6162_6731;

/// Ordered migration steps; step `i` takes the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5];

/// Schema version this build writes and understands.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The typed reason of a delivery (or log row) from its `state` and the `detail` text
/// earlier versions wrote, as an SQL expression (V4's one-time backfill). The texts are
/// those the code wrote up to V3 (`governor:` holds and damps, `budget_paused:` holds,
/// Codex's queue and turn notes, Claude's push and ack notes); anything else has no
/// reason. GLOB, not LIKE: case-sensitive, and `_` is literal.
macro_rules! reason_of_detail {
    () => {
        r#"CASE
    WHEN detail IS NULL THEN NULL
    WHEN detail = 'governor: relay resumed' THEN 'governor_resumed'
    WHEN detail GLOB 'governor: not relayed: *' THEN 'governor_damped'
    WHEN detail GLOB 'governor:*' THEN 'governor_hold'
    WHEN detail GLOB 'budget_paused*' THEN 'budget_paused'
    WHEN detail = 'released: the budget pause ended' THEN 'budget_resumed'
    WHEN detail = 'starting a turn' THEN 'starting'
    WHEN detail = 'waiting for Codex''s turn state' THEN 'turn_state_unknown'
    WHEN detail = 'waiting for the running turn to end' THEN 'turn_running'
    WHEN detail GLOB 'waiting for turn *' THEN 'behind_turn'
    WHEN detail GLOB 'turn/start refused*' THEN 'start_refused'
    WHEN detail GLOB 'steer refused*' THEN 'steer_refused'
    WHEN detail GLOB 'turn * did not end after the interrupt*' THEN 'interrupt_timeout'
    WHEN detail GLOB 'steering into turn *' THEN 'steering'
    WHEN detail GLOB 'interrupting turn *' THEN 'interrupting'
    WHEN detail = 'turn started' THEN 'turn_started'
    WHEN detail GLOB 'steered*' THEN 'steered'
    WHEN detail = 'turn found after reconnect' THEN 'turn_found'
    WHEN detail = 'turn ended while abg was not listening' THEN 'turn_ended_unobserved'
    WHEN state = 'completed' AND detail GLOB 'turn *' THEN 'turn_ended'
    WHEN detail = 'channel push' THEN 'channel_push'
    WHEN detail = 'delivered as Stop hook feedback' THEN 'stop_hook_feedback'
    WHEN detail = 'acknowledged by Claude' THEN 'acked'
    WHEN detail = 'get_messages' THEN 'fetched'
    WHEN detail GLOB 'in Claude''s transcript*' THEN 'in_transcript'
    WHEN detail GLOB 'in Claude''s context*' THEN 'in_context'
END"#
    };
}

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

/// Peers are data (issue 16): a `peers` table names who takes part and how it takes
/// messages (`delivery`: NULL sends only, `push` or `turn`, see `DeliveryModel`),
/// seeded with the four every earlier store holds. `messages`, `deliveries` and
/// `readings` are rebuilt without the CHECKs naming agents, their agent columns
/// referencing `peers` instead (every row and seq kept: the full-text index is keyed by
/// `messages.seq`); their indexes and the V3 full-text triggers, dropped with the old
/// tables, are made again. Readings stay limited to peers that receive messages (a
/// trigger). Deliveries and their history gain a typed `reason`, backfilled here once
/// from the detail texts earlier versions wrote: the only place old text is parsed.
const V4: &str = concat!(
    r#"
CREATE TABLE peers (
    id       TEXT PRIMARY KEY,
    delivery TEXT CHECK (delivery IS NULL OR delivery IN ('push','turn'))
) WITHOUT ROWID;
INSERT INTO peers (id, delivery) VALUES
    ('claude','push'), ('codex','turn'), ('human',NULL), ('abg',NULL);

CREATE TABLE messages_v4 (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    from_agent      TEXT    NOT NULL REFERENCES peers(id),
    to_agent        TEXT    NOT NULL REFERENCES peers(id),
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
INSERT INTO messages_v4 (seq, id, from_agent, to_agent, body, created_ms, thread_id,
    turn_id, source_item_id, in_reply_to, idempotency_key, on_busy, kind, meta)
SELECT seq, id, from_agent, to_agent, body, created_ms, thread_id,
    turn_id, source_item_id, in_reply_to, idempotency_key, on_busy, kind, meta
FROM messages ORDER BY seq;

CREATE TABLE deliveries_v4 (
    message_id TEXT    NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    recipient  TEXT    NOT NULL REFERENCES peers(id),
    state      TEXT    NOT NULL CHECK (state IN ('stored','pushed','seen','acknowledged',
                   'queued','steering','interrupting','started','completed','failed','held')),
    detail     TEXT,
    turn_id    TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER NOT NULL,
    reason     TEXT,
    PRIMARY KEY (message_id, recipient)
) WITHOUT ROWID;
INSERT INTO deliveries_v4 (message_id, recipient, state, detail, turn_id, attempts,
    updated_ms, reason)
SELECT message_id, recipient, state, detail, turn_id, attempts, updated_ms, "#,
    reason_of_detail!(),
    r#"
FROM deliveries;

CREATE TABLE readings_v4 (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    side        TEXT    NOT NULL REFERENCES peers(id),
    window      TEXT    NOT NULL CHECK (window IN ('five_hour','weekly')),
    used_pct    REAL    NOT NULL,
    resets_at   INTEGER,
    observed_ms INTEGER NOT NULL,
    source      TEXT    NOT NULL
);
INSERT INTO readings_v4 (seq, side, window, used_pct, resets_at, observed_ms, source)
SELECT seq, side, window, used_pct, resets_at, observed_ms, source FROM readings ORDER BY seq;

-- AUTOINCREMENT high-water marks move with their tables (never reuse a seq).
INSERT INTO sqlite_sequence (name, seq)
SELECT o.name || '_v4', 0 FROM sqlite_sequence o
WHERE o.name IN ('messages','readings')
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence n WHERE n.name = o.name || '_v4');
UPDATE sqlite_sequence
SET seq = MAX(seq, (SELECT o.seq FROM sqlite_sequence o WHERE o.name || '_v4' = sqlite_sequence.name))
WHERE name IN ('messages_v4','readings_v4')
  AND EXISTS (SELECT 1 FROM sqlite_sequence o WHERE o.name || '_v4' = sqlite_sequence.name);

DROP TABLE deliveries;
DROP TABLE messages;
DROP TABLE readings;
ALTER TABLE messages_v4 RENAME TO messages;
ALTER TABLE deliveries_v4 RENAME TO deliveries;
ALTER TABLE readings_v4 RENAME TO readings;

CREATE UNIQUE INDEX messages_source_item ON messages(from_agent, source_item_id)
    WHERE source_item_id IS NOT NULL;
CREATE UNIQUE INDEX messages_idempotency ON messages(from_agent, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_thread ON messages(thread_id) WHERE thread_id IS NOT NULL;
CREATE INDEX deliveries_recipient_state ON deliveries(recipient, state);
CREATE INDEX readings_side_window ON readings(side, window, seq);

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN EXISTS (SELECT 1 FROM messages_fts_docsize WHERE id = old.seq) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages
WHEN EXISTS (SELECT 1 FROM messages_fts_docsize WHERE id = old.seq) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.seq, old.body);
    INSERT INTO messages_fts(rowid, body) VALUES (new.seq, new.body);
END;
CREATE TRIGGER readings_side_receives BEFORE INSERT ON readings
WHEN (SELECT delivery FROM peers WHERE id = new.side) IS NULL BEGIN
    SELECT RAISE(ABORT, 'readings are kept only for peers that receive messages');
END;

ALTER TABLE delivery_log ADD COLUMN reason TEXT;
UPDATE delivery_log SET reason = "#,
    reason_of_detail!(),
    r#"
WHERE detail IS NOT NULL;
"#
);

/// The approvals inbox (issue 17): one row per request an agent put to the human, keyed
/// by the agent's own id for it (`request_key`, unique per peer, so a replay is the same
/// row). Only `pending` rows move; the first answer wins (one conditional UPDATE). A
/// rowid table: the rowid orders requests as they came (ids of one millisecond do not).
const V5: &str = r#"
CREATE TABLE approvals (
    id           TEXT    PRIMARY KEY,
    peer         TEXT    NOT NULL REFERENCES peers(id),
    request_key  TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('command','file_change','permissions',
                     'tool','user_input','elicitation','unknown')),
    detail       TEXT    NOT NULL CHECK (json_valid(detail)),
    options      TEXT    CHECK (options IS NULL OR json_valid(options)),
    state        TEXT    NOT NULL CHECK (state IN ('pending','approved','denied',
                     'answered_elsewhere','expired','abandoned')),
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    answered_ms  INTEGER,
    answered_by  TEXT,
    answered_via TEXT    CHECK (answered_via IS NULL OR answered_via IN ('cli','web','tui','agent')),
    decision     TEXT    CHECK (decision IS NULL OR json_valid(decision)),
    UNIQUE (peer, request_key)
);
CREATE INDEX approvals_state ON approvals(state);
"#;

fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.pragma_query_value(None, "user_version", |r| r.get(0))?)
}

/// Refuse foreign or too-new files, then bring the schema to [`SCHEMA_VERSION`].
/// Returns the version found before migrating. Foreign keys are off while steps run
/// and on again afterwards, whatever happened (see the module docs).
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<i64> {
    check(conn, path)?;
    let found = user_version(conn)?;
    if found >= SCHEMA_VERSION {
        return Ok(found);
    }
    let enforced: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = apply_steps(conn);
    let restored = conn.pragma_update(None, "foreign_keys", enforced);
    migrated?;
    restored?;
    Ok(found)
}

/// Each missing step in its own IMMEDIATE transaction with the version bump: a crash or
/// an error mid-step leaves the file at the previous version.
fn apply_steps(conn: &mut Connection) -> Result<()> {
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
        foreign_keys_hold(&tx, target)?;
        tx.pragma_update(None, "user_version", target)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
        tracing::info!(version = target, "store schema migrated");
    }
    Ok(())
}

/// `PRAGMA foreign_key_check` inside a step's transaction: an error (rolling the step
/// back) when a row points at nothing.
fn foreign_keys_hold(conn: &Connection, target: i64) -> Result<()> {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check")?;
    let broken: Vec<String> = stmt
        .query_map([], |r| {
            Ok(format!(
                "{} row {} -> {}",
                r.get::<_, String>(0)?,
                r.get::<_, Option<i64>>(1)?.unwrap_or_default(),
                r.get::<_, String>(2)?
            ))
        })?
        .collect::<rusqlite::Result<_>>()?;
    if broken.is_empty() {
        return Ok(());
    }
    Err(StoreError::Setup(format!(
        "migration to schema {target} would leave foreign key violations: {}",
        broken.join(", ")
    )))
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
