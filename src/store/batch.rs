//! Grouping writes into one transaction. Each store write is atomic on its own (its own
//! `IMMEDIATE` transaction); [`Store::batch`] runs several of them in one, so they commit
//! together or not at all and pay for one commit instead of one each. Why it exists: a
//! commit is the expensive part of a small write (WAL frames for every page touched,
//! index pages included), and the daemon's hot paths do several small writes per message
//! (insert + governor state + hold; a push report over a whole batch of ids).
//!
//! Inside a batch, each write runs in a savepoint ([`write_tx`]), so a write that fails
//! undoes only itself; the batch as a whole still rolls back when its closure errs.

use std::ops::Deref;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use rusqlite::{Connection, Savepoint, Transaction, TransactionBehavior};

use super::Store;
use super::error::{Result, StoreError};

/// One write's unit of atomicity: a top-level `IMMEDIATE` transaction, or a savepoint
/// when a [`Store::batch`] is already open. Dropping it uncommitted rolls it back.
pub(super) enum Tx<'c> {
    Top(Transaction<'c>),
    Nested(Savepoint<'c>),
}

impl Deref for Tx<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Tx::Top(t) => t,
            Tx::Nested(s) => s,
        }
    }
}

impl Tx<'_> {
    pub(super) fn commit(self) -> Result<()> {
        match self {
            Tx::Top(t) => t.commit()?,
            Tx::Nested(s) => s.commit()?,
        }
        Ok(())
    }
}

/// Open the unit of atomicity for one write on `conn`.
pub(super) fn write_tx(conn: &mut Connection) -> Result<Tx<'_>> {
    Ok(if conn.is_autocommit() {
        Tx::Top(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
    } else {
        Tx::Nested(conn.savepoint()?)
    })
}

impl Store {
    /// Run `f` in one `IMMEDIATE` transaction: every write it makes commits together when
    /// it returns `Ok`, and none does when it returns `Err` or panics. A batch inside a
    /// batch joins the outer one. Durable (as one commit) when this returns `Ok`.
    pub fn batch<T, E>(&mut self, f: impl FnOnce(&mut Store) -> Result<T, E>) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        if !self.conn.is_autocommit() {
            return f(self);
        }
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(StoreError::from)?;
        let outcome = catch_unwind(AssertUnwindSafe(|| f(self)));
        let rollback = |conn: &Connection| {
            if !conn.is_autocommit()
                && let Err(e) = conn.execute_batch("ROLLBACK")
            {
                tracing::warn!("store: cannot roll a batch back: {e}");
            }
        };
        match outcome {
            Ok(Ok(value)) => match self.conn.execute_batch("COMMIT") {
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
