//! Quota readings (issue 7): append-only observations of each agent's 5-hour and weekly
//! windows, newest first on read, pruned to a bounded history per window. The budget
//! module owns their meaning; the store only keeps them as plain rows.

use rusqlite::params;
use serde::{Deserialize, Serialize};

use super::error::{Result, StoreError};
use super::{Store, sql_limit};

/// Rows kept per (side, window); older ones are pruned on insert.
pub const READINGS_KEPT: i64 = 2_000;

/// One stored reading. `side` is `claude`/`codex`, `window` `five_hour`/`weekly`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadingRow {
    pub side: String,
    pub window: String,
    pub used_pct: f64,
    /// Unix seconds.
    pub resets_at: Option<i64>,
    pub observed_ms: i64,
    pub source: String,
}

impl Store {
    /// Append a reading (durable when this returns) and prune old ones of its window.
    pub fn insert_reading(&mut self, r: &ReadingRow) -> Result<i64> {
        if !r.used_pct.is_finite() {
            return Err(StoreError::InvalidInput(format!(
                "reading of {} {} is not a number",
                r.side, r.window
            )));
        }
        self.conn
            .prepare_cached(
                "INSERT INTO readings (side, window, used_pct, resets_at, observed_ms, source) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                r.side,
                r.window,
                r.used_pct,
                r.resets_at,
                r.observed_ms,
                r.source
            ])?;
        let seq = self.conn.last_insert_rowid();
        self.conn
            .prepare_cached(
                "DELETE FROM readings WHERE side = ?1 AND window = ?2 AND seq <= ?3 - ?4",
            )?
            .execute(params![r.side, r.window, seq, READINGS_KEPT])?;
        Ok(seq)
    }

    /// The newest readings of one window, newest first.
    pub fn recent_readings(
        &self,
        side: &str,
        window: &str,
        limit: usize,
    ) -> Result<Vec<ReadingRow>> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT side, window, used_pct, resets_at, observed_ms, source FROM readings \
                 WHERE side = ?1 AND window = ?2 ORDER BY seq DESC LIMIT ?3",
            )?
            .query_map(params![side, window, sql_limit(limit)], |row| {
                Ok(ReadingRow {
                    side: row.get(0)?,
                    window: row.get(1)?,
                    used_pct: row.get(2)?,
                    resets_at: row.get(3)?,
                    observed_ms: row.get(4)?,
                    source: row.get(5)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(side: &str, window: &str, used: f64, at: i64) -> ReadingRow {
        ReadingRow {
            side: side.into(),
            window: window.into(),
            used_pct: used,
            resets_at: Some(1_000),
            observed_ms: at,
            source: "test".into(),
        }
    }

    #[test]
    fn readings_are_kept_per_window_newest_first() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut store = Store::open(&dir.path().join("s.db")).expect("open");
        store
            .insert_reading(&row("codex", "five_hour", 10.0, 1))
            .expect("insert");
        store
            .insert_reading(&row("codex", "five_hour", 20.0, 2))
            .expect("insert");
        store
            .insert_reading(&row("codex", "weekly", 5.0, 3))
            .expect("insert");
        let got = store
            .recent_readings("codex", "five_hour", 10)
            .expect("read");
        assert_eq!(
            got.iter().map(|r| r.used_pct).collect::<Vec<_>>(),
            [20.0, 10.0]
        );
        assert!(
            store
                .recent_readings("claude", "weekly", 10)
                .expect("read")
                .is_empty()
        );
        // The schema refuses unknown sides.
        assert!(
            store
                .insert_reading(&row("human", "weekly", 1.0, 4))
                .is_err()
        );
        assert!(
            store
                .insert_reading(&row("codex", "weekly", f64::NAN, 4))
                .is_err()
        );
    }
}
