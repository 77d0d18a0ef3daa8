//! WAL checkpoints off the writers' path. Why it exists: SQLite's automatic
//! checkpoint runs inside the one `COMMIT` that takes the WAL past 1,000
//! pages, so every hundredth relay commit or so also copied the whole WAL
//! into the database file and fsynced it: several milliseconds, the p99 of a
//! relay hop. The daemon's store instead hands checkpoints to a thread of its
//! own with its own connection: the WAL hook (which replaces the automatic
//! checkpoint) wakes it when the WAL passes [`WAKE_PAGES`], and it runs a
//! `PASSIVE` checkpoint, which never blocks a writer. Writers restart the WAL
//! from its beginning once a checkpoint has caught up, so it stays small.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::error::{Result, StoreError};
use super::{BUSY_TIMEOUT, Store};

/// WAL size, in pages, past which a commit wakes the checkpointer (SQLite's
/// own automatic checkpoint threshold).
pub const WAKE_PAGES: i32 = 1000;

/// The background checkpointer of one store connection.
pub(super) struct Checkpointer {
    thread: JoinHandle<()>,
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Stop after the checkpoint under way (the hook holding the sender is
    /// already gone) and wait for the thread.
    pub(super) fn join(self) {
        if self.thread.join().is_err() {
            tracing::warn!("the store's checkpoint thread panicked");
        }
    }
}

impl Store {
    /// Checkpoint this store's WAL on a thread of its own from now on (see
    /// the module docs). Idempotent; the thread ends when the store closes.
    pub fn checkpoint_in_background(&mut self) -> Result<()> {
        if self.checkpointer.is_some() {
            return Ok(());
        }
        let conn = open_second(&self.path)?;
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let done = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&done);
        let thread = std::thread::Builder::new()
            .name("abg-checkpoint".into())
            .spawn(move || run(&conn, &woken, &counter))
            .map_err(|e| StoreError::Setup(format!("cannot start the checkpoint thread: {e}")))?;
        self.conn
            .wal_hook(Some(move |_: &mut rusqlite::hooks::Wal, pages| {
                if pages >= WAKE_PAGES {
                    wake_up(&wake);
                }
                Ok(())
            }))?;
        self.checkpointer = Some(Checkpointer { thread, done });
        Ok(())
    }

    /// Checkpoints the background thread has run (0 without one).
    pub fn background_checkpoints(&self) -> u64 {
        self.checkpointer
            .as_ref()
            .map_or(0, |c| c.done.load(Ordering::Relaxed))
    }

    /// Stop the background checkpointer, if any, and wait for it.
    pub(super) fn stop_checkpointer(&mut self) -> Result<()> {
        if let Some(c) = self.checkpointer.take() {
            // Dropping the hook drops the sender: the thread sees the
            // channel closed and ends.
            self.conn
                .wal_hook(None::<fn(&mut rusqlite::hooks::Wal, i32) -> rusqlite::Result<()>>)?;
            c.join();
        }
        Ok(())
    }
}

/// A full channel means a wake-up is already pending: nothing is lost.
fn wake_up(wake: &SyncSender<()>) {
    match wake.try_send(()) {
        Ok(()) | Err(TrySendError::Full(())) | Err(TrySendError::Disconnected(())) => {}
    }
}

fn open_second(path: &Path) -> Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

fn run(conn: &Connection, woken: &Receiver<()>, done: &AtomicU64) {
    while woken.recv().is_ok() {
        let result = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
            ))
        });
        match result {
            Ok((busy, log, copied)) => {
                done.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(busy, log, copied, "store checkpoint");
            }
            Err(e) => {
                tracing::warn!(error = %e, "store checkpoint failed; retried at the next wake-up")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::store::types::{NewMessage, PeerId};

    #[test]
    fn the_wal_is_checkpointed_by_the_thread_and_nothing_is_lost() {
        let dir = tempfile::tempdir().expect("tmp");
        let mut s = Store::open(&dir.path().join("s.db")).expect("open");
        s.checkpoint_in_background().expect("checkpointer");
        s.checkpoint_in_background().expect("idempotent");
        assert_eq!(s.background_checkpoints(), 0);
        // Each message fills about a page of its own: well past WAKE_PAGES.
        let body = "x".repeat(3000);
        for i in 0..1500 {
            let m = NewMessage::new(
                PeerId::HUMAN,
                PeerId::from_static("claude"),
                format!("{i} {body}"),
            );
            s.insert_message(&m).expect("insert");
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while s.background_checkpoints() == 0 {
            assert!(Instant::now() < deadline, "no checkpoint ran on the thread");
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(s.stats().expect("stats").messages, 1500);
        s.close().expect("close stops the thread");
        let s = Store::open(&dir.path().join("s.db")).expect("reopen");
        assert_eq!(s.stats().expect("stats").messages, 1500);
        assert_eq!(s.integrity_check().expect("check"), "ok");
    }
}
