//! Full-text indexing of new messages, once per transaction. Why it exists:
//! SQLite's FTS5 flushes its pending index data into a new segment at every
//! statement-level savepoint, so indexing from an `AFTER INSERT` trigger
//! wrote (and later merged) one segment per message: most of an insert's
//! cost. Instead, every transaction that stored messages indexes all of
//! them with one statement just before it commits, so the index is always
//! complete outside a write transaction (search never sees a gap) and a
//! group commit of many messages pays for one segment.

use rusqlite::Connection;

use super::error::Result;

/// Index every message newer than the last indexed one, in the caller's
/// open transaction. Cheap when there is nothing to index.
pub(super) fn index_pending(conn: &Connection) -> Result<()> {
    // FTS5 keeps one `_docsize` row per indexed document (rowid = seq).
    let mark: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages_fts_docsize")?
        .query_row([], |r| r.get(0))?;
    let last: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM messages WHERE seq > ?1")?
        .query_row([mark], |r| r.get(0))?;
    let Some(last) = last else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO messages_fts(rowid, body) SELECT seq, body FROM messages \
         WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
    )?
    .execute([mark, last])?;
    Ok(())
}
