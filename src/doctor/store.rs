//! The pair's store as doctor sees it: read without creating, migrating or
//! repairing anything. A missing file is normal before the first session;
//! a file at another schema version (a daemon of another abg version) is
//! reported and left alone, never migrated from here.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::Check;
use crate::store::{MAX_PAGE, PeerId, SCHEMA_VERSION, Store};

/// Event the daemon records when `abg claude` reports the channel verdict.
pub const CHANNEL_EVENT: &str = "claude_channel";

/// What was found in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Facts {
    /// No store file yet.
    Absent,
    /// Written at another schema version: not opened.
    OtherSchema { found: i64 },
    /// Could not be opened or read.
    Broken(String),
    /// Opened and read.
    Read(Contents),
}

/// What doctor reads from an opened store.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contents {
    /// `PRAGMA integrity_check` (plus foreign keys): "ok" when healthy.
    pub integrity: String,
    pub to_claude: u64,
    pub to_codex: u64,
    /// The pair's current Codex thread (store setting `codex.thread_id`).
    pub thread: Option<String>,
    /// The last channel verdict recorded (`registered`, `reason`).
    pub channel: Option<(bool, Option<String>)>,
}

/// Read the store at `path` (see the module docs for what is never done).
pub fn read(path: &Path) -> Facts {
    if !path.exists() {
        return Facts::Absent;
    }
    let version = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0)));
    match version {
        Err(e) => return Facts::Broken(e.to_string()),
        Ok(v) if v != SCHEMA_VERSION => return Facts::OtherSchema { found: v },
        Ok(_) => {}
    }
    match read_contents(path) {
        Ok(c) => Facts::Read(c),
        Err(e) => Facts::Broken(e.to_string()),
    }
}

fn read_contents(path: &Path) -> Result<Contents, crate::store::StoreError> {
    let store = Store::open(path)?;
    let integrity = store.integrity_check()?;
    let stats = store.stats()?;
    let pending = |a: PeerId| stats.by_recipient.get(&a).map_or(0, |r| r.pending);
    let thread = store.get_setting::<String>(crate::codex::session::THREAD_SETTING)?;
    let mut channel = None;
    let mut after = 0;
    loop {
        let page = store.events_after(after, MAX_PAGE)?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in page.iter().filter(|e| e.kind == CHANNEL_EVENT) {
            let registered = e.data.get("registered").and_then(|v| v.as_bool());
            let reason = e
                .data
                .get("reason")
                .and_then(|v| v.as_str())
                .map(str::to_string);
            if let Some(registered) = registered {
                channel = Some((registered, reason));
            }
        }
    }
    Ok(Contents {
        integrity,
        to_claude: pending(crate::claude::PEER),
        to_codex: pending(crate::codex::PEER),
        thread,
        channel,
    })
}

/// `store.integrity`, `store.queues` and `codex.thread`.
pub fn checks(path: &Path, facts: &Facts) -> Vec<Check> {
    let shown = path.display();
    let aside = format!(
        "stop the daemon (`abg kill`), move {shown} aside (it is the pair's message history), then start the pair again"
    );
    let integrity = match facts {
        Facts::Absent => Check::ok("store.integrity", "no store yet (the daemon creates it)"),
        Facts::OtherSchema { found } => Check::warn(
            "store.integrity",
            format!(
                "{shown} has schema version {found}, this abg expects {SCHEMA_VERSION}; not opened (doctor never migrates)"
            ),
            "run the pair with this abg version: `abg kill`, then `abg claude` or `abg codex`",
        ),
        Facts::Broken(e) => Check::fail(
            "store.integrity",
            format!("cannot read {shown}: {e}"),
            aside,
        ),
        Facts::Read(c) if c.integrity == "ok" => Check::ok(
            "store.integrity",
            format!("PRAGMA integrity_check: ok (schema {SCHEMA_VERSION})"),
        ),
        Facts::Read(c) => Check::fail(
            "store.integrity",
            format!(
                "PRAGMA integrity_check: {}",
                c.integrity.replace('\n', "; ")
            ),
            aside,
        ),
    };
    let (queues, thread) = match facts {
        Facts::Read(c) => (
            Check::ok(
                "store.queues",
                format!(
                    "undelivered: {} to Claude · {} to Codex",
                    c.to_claude, c.to_codex
                ),
            ),
            match &c.thread {
                Some(t) => Check::ok(
                    "codex.thread",
                    format!("current Codex thread {t} (`abg codex` resumes it)"),
                ),
                None => Check::ok(
                    "codex.thread",
                    "no Codex thread yet (`abg codex` starts one)",
                ),
            },
        ),
        Facts::Absent => (
            Check::ok("store.queues", "undelivered: 0 to Claude · 0 to Codex"),
            Check::ok(
                "codex.thread",
                "no Codex thread yet (`abg codex` starts one)",
            ),
        ),
        _ => (
            Check::warn(
                "store.queues",
                "unknown: the store could not be read",
                "see store.integrity",
            ),
            Check::warn(
                "codex.thread",
                "unknown: the store could not be read",
                "see store.integrity",
            ),
        ),
    };
    vec![integrity, queues, thread]
}
