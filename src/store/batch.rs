//! Grouping writes into one transaction. Each store write is atomic on its own (its own
//! `IMMEDIATE` transaction); [`Store::batch`] runs several of them in one, so they commit
//! together or not at all and pay for one commit instead of one each. Why it exists: a
//! commit is the expensive part of a small write (WAL frames for every page touched,
//! index pages included), and the daemon's hot paths do several small writes per message
//! (insert + governor state + hold; a push report over a whole batch of ids).
//!
//! Inside a batch, a write joins the batch's transaction without a savepoint of its own:
//! a savepoint's release makes SQLite's full-text index flush a segment per write
//! (`fts5ReleaseMethod` → `sqlite3Fts5StorageSync`) and journal every page it touches,
//! which cost most of a message's insert time. Each write validates before it writes,
//! so a refused write changes nothing; a write that fails in SQLite itself may leave part
//! of its effect in the batch, which the batch then rolls back: [`Store::batch`] does
//! when its closure returns `Err`, so a closure must not swallow a failed write and go
//! on. A nested [`Store::batch`] is a savepoint, for callers that want exactly that.

use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use super::Store;
use super::error::{Result, StoreError};

/// One write's unit of atomicity: a top-level `IMMEDIATE` transaction, or the open
/// [`Store::batch`] it joins. Dropping a top-level one uncommitted rolls it back.
pub(super) enum Tx<'c> {
    Top(Transaction<'c>),
    Joined(&'c Connection),
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Tx::Top(t) => t,
            Tx::Joined(c) => c,
        }
    }
}

impl Tx<'_> {
    /// Whether this write is its own transaction (not joined to a batch).
    pub(super) fn is_top(&self) -> bool {
        matches!(self, Tx::Top(_))
    }

    pub(super) fn commit(self) -> Result<()> {
        if let Tx::Top(t) = self {
            t.commit()?;
        }
        Ok(())
    }
}

/// Open the unit of atomicity for one write on `conn`.
pub(super) fn write_tx(conn: &mut Connection) -> Result<Tx<'_>> {
    Ok(if conn.is_autocommit() {
        Tx::Top(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    } else {
        Tx::Joined(conn)
    })
}

impl Store {
    /// Run `f` in one `IMMEDIATE` transaction: every write it makes commits together when
    /// it returns `Ok`, and none does when it returns `Err` or panics. Durable (as one
    /// commit) when this returns `Ok`. A batch inside a batch is a savepoint of the outer
    /// one: its `Err` undoes only its own writes (the outer batch decides whether to go on),
    /// and its writes commit with the outer batch.
    pub fn batch<T, E>(&mut self, f: impl FnOnce(&mut Store) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let nested = !self.conn.is_autocommit();
        let (begin, commit, rollback_sql) = if nested {
            (
                "SAVEPOINT abg_batch",
                "RELEASE abg_batch",
                "ROLLBACK TO abg_batch; RELEASE abg_batch",
            )
        } else {
            ("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK")
        };
        self.conn.execute_batch(begin).map_err(StoreError::from)?;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(self)));
        let rollback = |conn: &Connection| {
            if !conn.is_autocommit()
                && let Err(e) = conn.execute_batch(rollback_sql)
            {
                tracing::warn!("store: cannot roll a batch back: {e}");
            }
        };
        // Messages stored by now get their full-text entries once a batch
        // of them waits (see `fts`).
        let outcome = match outcome {
            Ok(Ok(value)) if !nested => match super::fts::index_due(&self.conn) {
                Ok(()) => Ok(Ok(value)),
                Err(e) => Ok(Err(E::from(e))),
            },
            other => other,
        };
        match outcome {
            Ok(Ok(value)) => match self.conn.execute_batch(commit) {
                Ok(()) => Ok(value),
                Err(e) => {
                    rollback(&self.conn);
                    Err(StoreError::from(e).into())
                }
            },
            Ok(Err(e)) => {
                rollback(&self.conn);
                Err(e)
            }
            Err(panic) => {
                rollback(&self.conn);
                resume_unwind(panic)
            }
        }
    }
}
