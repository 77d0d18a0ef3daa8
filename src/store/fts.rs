//! Full-text indexing of new messages, in batches. Why it exists: SQLite's
//! FTS5 writes a new index segment for every transaction that indexes
//! anything (and at every statement savepoint from an `AFTER INSERT`
//! trigger), several pages per message stored alone: most of a relayed
//! message's commit. So a transaction that stores messages indexes them
//! only once [`BATCH`] are waiting (one segment for the lot), and a search
//! first indexes whatever is still waiting, in its own transaction, so it
//! never misses a message.

use rusqlite::Connection;

use super::error::Result;

/// Messages left unindexed before a storing transaction indexes them.
pub const BATCH: i64 = 64;

/// In a transaction that stored messages: index the waiting messages if
/// there are [`BATCH`] or more. Two cached lookups when there are fewer.
pub(super) fn index_due(conn: &Connection) -> Result<()> {
    index_from(conn, BATCH)
}

/// Index every message newer than the last indexed one, in the caller's
/// open transaction. Cheap when there is nothing to index.
pub(super) fn index_pending(conn: &Connection) -> Result<()> {
    index_from(conn, 1)
}

fn index_from(conn: &Connection, at_least: i64) -> Result<()> {
    // FTS5 keeps one `_docsize` row per indexed document (rowid = seq).
    let mark: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(id), 0) FROM messages_fts_docsize")?
        .query_row([], |r| r.get(0))?;
    let last: Option<i64> = conn
        .prepare_cached("SELECT MAX(seq) FROM messages WHERE seq > ?1")?
        .query_row([mark], |r| r.get(0))?;
    let Some(last) = last.filter(|l| l - mark >= at_least) else {
        return Ok(());
    };
    conn.prepare_cached(
        "INSERT INTO messages_fts(rowid, body) SELECT seq, body FROM messages \
         WHERE seq > ?1 AND seq <= ?2 ORDER BY seq",
    )?
    .execute([mark, last])?;
    Ok(())
}
