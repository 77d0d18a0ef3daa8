//! The pair's durable store: one SQLite file per pair, owned and written only by the daemon.
//! It is the source of truth for the conversation (messages and their per-recipient
//! delivery state, with an append-only history of every transition), pair events,
//! settings and one-shot tombstones. A message is acknowledged to its sender only after
//! [`Store::insert_message`] returns, i.e. after its transaction committed.
//!
//! Durability: `journal_mode=WAL` with `synchronous=NORMAL`. A committed transaction is in
//! the WAL file (the OS page cache) before `COMMIT` returns, so it survives the daemon
//! being killed at any point (`kill -9`, panic, OOM). Only an OS crash or power loss can
//! lose the last few transactions, and even then the file stays consistent. `FULL` would add
//! an fsync per commit for that rare case; a per-pair chat relay does not need it.
//!
//! Layout: `types` (serde data; `peer_id`: who talks, as data; `meaning`: delivery
//! states, models and reasons), `schema` (migrations), `rows` (SQL ⇄ types), `peers`
//! (who takes part and how each takes messages), and one file of queries per concern
//! (`messages`, `deliveries`, `records`, `approvals`). All calls are synchronous;
//! the daemon keeps the [`Store`] behind a `std::sync::Mutex` and calls it from blocking
//! sections. The file is created 0600 (as are its `-wal`/`-shm` companions).

mod approvals;
mod batch;
mod checkpointer;
mod deliveries;
mod error;
mod fts;
mod meaning;
mod messages;
pub mod peer_id;
mod peers;
mod queue;
mod readings;
mod records;
mod rows;
mod schema;
pub mod types;

#[cfg(test)]
mod tests;

use std::fs;
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::Connection;

use crate::clock::now_ms;

pub use approvals::Resolution;
pub use error::StoreError;
pub use messages::MAX_SEARCH_TERMS;
pub use peers::Peers;
pub use queue::QueueMark;
pub use readings::ReadingRow;
pub use schema::{APPLICATION_ID, SCHEMA_VERSION};
pub use types::{
    AnsweredVia, Approval, ApprovalKind, ApprovalState, Delivery, DeliveryLogEntry, DeliveryModel,
    DeliveryReason, DeliveryState, Event, Inserted, Message, MessageKind, NewMessage, Note, OnBusy,
    ParseEnumError, PeerId, Pending, RecipientStats, Stats, Tombstone, Transitioned,
};

use error::Result;

/// How long a statement waits for a lock held by another connection (a CLI reading the
/// file, a backup) before failing with `SQLITE_BUSY`.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Upper bound on rows returned by one paging call, whatever the caller asks for.
pub const MAX_PAGE: usize = 10_000;

const FILE_MODE: u32 = 0o600;

/// The per-pair store. `Send` (not `Sync`): share it as `Mutex<Store>`.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// Deliveries moved back into a waiting state (see `queue`).
    rewinds: u64,
    /// The WAL checkpoint thread, once started (see `checkpointer`).
    checkpointer: Option<checkpointer::Checkpointer>,
    /// The `peers` table (see `peers`).
    peers: Peers,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Open (creating if needed) the store at `path`, apply pending migrations, and refuse
    /// files written by a newer abg ([`StoreError::TooNew`]) or by another application.
    pub fn open(path: &Path) -> Result<Store> {
        create_private(path)?;
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // Check before anything writes to the file (switching to WAL rewrites its header).
        schema::check(&conn, path)?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Setup(format!(
                "{} cannot use WAL journaling (got {mode:?}); is it on a network filesystem?",
                path.display()
            )));
        }
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Truncate the WAL back to 64 MiB after checkpoints so a burst does not pin disk.
        conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
        conn.set_prepared_statement_cache_capacity(64);
        let found = schema::migrate(&mut conn, path)?;
        let peers = peers::load(&conn)?;
        for companion in ["-wal", "-shm"] {
            let mut p = path.as_os_str().to_owned();
            p.push(companion);
            restrict_mode(Path::new(&p))?;
        }
        tracing::debug!(path = %path.display(), found, current = SCHEMA_VERSION, "store open");
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            rewinds: 0,
            checkpointer: None,
            peers,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the open file (always [`SCHEMA_VERSION`] after `open`).
    pub fn schema_version(&self) -> Result<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))?)
    }

    /// `PRAGMA integrity_check`, plus foreign-key violations: `"ok"` when healthy,
    /// otherwise the problems found, one per line.
    pub fn integrity_check(&self) -> Result<String> {
        let mut problems = Vec::new();
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        for line in stmt.query_map([], |r| r.get::<_, String>(0))? {
            let line = line?;
            if line != "ok" {
                problems.push(line);
            }
        }
        let mut stmt = self.conn.prepare("PRAGMA foreign_key_check")?;
        let mut rows = stmt.query([])?;
        while let Some(row) = rows.next()? {
            let table: String = row.get(0)?;
            let parent: String = row.get(2)?;
            problems.push(format!(
                "foreign key violation in {table} (parent {parent})"
            ));
        }
        Ok(if problems.is_empty() {
            "ok".to_owned()
        } else {
            problems.join("\n")
        })
    }

    /// Fold the WAL back into the main file. Optional (SQLite checkpoints on its own);
    /// useful before a backup or on clean shutdown.
    pub fn checkpoint(&self) -> Result<()> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Checkpoint and close, reporting errors that a plain drop would swallow.
    pub fn close(mut self) -> Result<()> {
        self.stop_checkpointer()?;
        self.checkpoint()?;
        self.conn.close().map_err(|(_, e)| StoreError::Sqlite(e))
    }
}

/// A fresh message id: `m_`, 10 hex digits of the current millisecond
/// (modulo 2^40, about 35 years) and 6 of randomness. Ids drawn later sort
/// after earlier ones, so the rows and index entries keyed by message id
/// (deliveries, their state index, the delivery log's index) of messages
/// stored or moved together share B-tree pages: a push report of 20
/// messages writes a few WAL pages instead of one page per message per
/// index, as fully random ids did. Uniqueness is checked on insert.
fn new_message_id() -> String {
    message_id_at(now_ms(), rand::random::<u32>())
}

fn message_id_at(ms: i64, random: u32) -> String {
    id_at("m_", ms, random)
}

/// A fresh approval id: `a_` and the same time-sortable hex as message ids.
fn new_approval_id() -> String {
    id_at("a_", now_ms(), rand::random::<u32>())
}

fn id_at(prefix: &str, ms: i64, random: u32) -> String {
    let ms = u64::try_from(ms).unwrap_or(0) & 0xff_ffff_ffff;
    format!("{prefix}{ms:010x}{:06x}", random & 0xff_ffff)
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Create the database file 0600 if absent (SQLite gives `-wal`/`-shm` the main file's
/// mode), refuse a symlink, and tighten an existing file's mode.
fn create_private(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(StoreError::Setup(format!(
            "refusing to open {}: it is a symlink",
            path.display()
        ))),
        Ok(_) => restrict_mode(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            match fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(FILE_MODE)
                .open(path)
            {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => restrict_mode(path),
                Err(e) => Err(io_err(path)(e)),
            }
        }
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Set a file's mode to 0600 if it exists and is more permissive.
fn restrict_mode(path: &Path) -> Result<()> {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(path)(e)),
    };
    if meta.permissions().mode() & 0o777 != FILE_MODE {
        fs::set_permissions(path, fs::Permissions::from_mode(FILE_MODE)).map_err(io_err(path))?;
    }
    Ok(())
}

/// A caller's row limit as an SQL `LIMIT`, capped at [`MAX_PAGE`].
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit.min(MAX_PAGE)).unwrap_or(0)
}
