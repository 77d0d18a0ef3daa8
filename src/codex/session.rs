//! Which Codex thread the pair is on, and whether a turn is running in it.
//!
//! Why it exists: the daemon is not in the TUI's request path, so it must
//! find the TUI's thread from the outside (`thread/loaded/list` +
//! `thread/read`), subscribe to it (`thread/resume {excludeTurns:true}`),
//! follow the human when they switch threads (`/new`, resume), and never
//! mistake the TUI's temporary title-generation thread for the real one
//! (the anchor's trap). Turn state comes only from the server: the
//! `turn/started`/`turn/completed` stream, re-read with `thread/read` after
//! every (re)connect or switch, so it cannot go stale and wedge delivery.
//! A turn silent for too long is shown as stalled, never as completed.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::appserver::Mode;
use super::protocol::methods::{ThreadLoadedList, ThreadRead, ThreadResume};
use super::protocol::{
    NoParams, Thread, ThreadReadParams, ThreadResumeParams, ThreadStatus, TurnStatus,
};
use super::transport::{Connection, Requester, TransportError};

/// Store setting holding the pair's current thread id.
pub const THREAD_SETTING: &str = "codex.thread_id";
pub(crate) const RPC_TIMEOUT: Duration = Duration::from_secs(15);

/// What `abg codex` reads to resume the pair's thread (the store belongs to
/// the daemon, so the current thread is also mirrored in a small file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CurrentThread {
    pub thread_id: String,
    /// The rollout file; resumable only once it exists.
    pub path: Option<String>,
    /// The pair's permission mode when the daemon first followed the
    /// thread. Codex keeps a resumed thread's approvals and sandbox (and
    /// `codex resume --remote` takes no override), so the thread runs in
    /// this mode whatever the app-server's mode: resume it only in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<Mode>,
}

/// Codex's thread and turn as the daemon sees them: what the Codex peer
/// publishes for `abg status` (`peers.codex.view`) and the web UI.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CodexView {
    pub thread_id: Option<String>,
    /// `unknown`, `idle`, `busy` or `stalled` (silent past `codex.turn_stall_secs`).
    pub turn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
}

/// Turn state of the current thread.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnState {
    /// Not known yet (no thread, or not read since the last connect).
    Unknown,
    Idle,
    /// A turn is running; `turn_id` is empty when the server said the
    /// thread is active but named no turn.
    Active {
        turn_id: String,
        last_activity: Instant,
        stalled: bool,
    },
}

impl TurnState {
    pub fn active(turn_id: impl Into<String>) -> Self {
        TurnState::Active {
            turn_id: turn_id.into(),
            last_activity: Instant::now(),
            stalled: false,
        }
    }

    /// This state as `abg status` shows it.
    pub fn view(&self, thread_id: Option<&str>) -> CodexView {
        let (turn, turn_id) = match self {
            TurnState::Unknown => ("unknown", None),
            TurnState::Idle => ("idle", None),
            TurnState::Active {
                turn_id, stalled, ..
            } => (
                if *stalled { "stalled" } else { "busy" },
                Some(turn_id.clone()).filter(|t| !t.is_empty()),
            ),
        };
        CodexView {
            thread_id: thread_id.map(str::to_owned),
            turn: turn.to_string(),
            turn_id,
        }
    }

    pub fn active_turn(&self) -> Option<&str> {
        match self {
            TurnState::Active { turn_id, .. } if !turn_id.is_empty() => Some(turn_id),
            _ => None,
        }
    }
}

/// The daemon's view of the Codex side.
#[derive(Debug)]
pub struct Session {
    pub thread: Option<Thread>,
    pub turn: TurnState,
    /// Threads this connection is subscribed to.
    pub subscribed: HashSet<String>,
}

impl Session {
    pub fn new() -> Self {
        Self {
            thread: None,
            turn: TurnState::Unknown,
            subscribed: HashSet::new(),
        }
    }

    pub fn thread_id(&self) -> Option<&str> {
        self.thread.as_ref().map(|t| t.id.as_str())
    }

    pub fn is_current(&self, thread_id: &str) -> bool {
        self.thread_id() == Some(thread_id)
    }

    /// Note activity on the current thread (feeds the stall watchdog).
    pub fn touch(&mut self) {
        if let TurnState::Active {
            last_activity,
            stalled,
            ..
        } = &mut self.turn
        {
            *last_activity = Instant::now();
            *stalled = false;
        }
    }

    /// Mark the running turn stalled after `limit` of silence; true the
    /// first time (so it is reported once).
    pub fn check_stall(&mut self, limit: Duration) -> bool {
        match &mut self.turn {
            TurnState::Active {
                last_activity,
                stalled,
                ..
            } if !*stalled && last_activity.elapsed() >= limit => {
                *stalled = true;
                true
            }
            _ => false,
        }
    }
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether `t` can be the human's thread: persisted (not ephemeral, has a
/// rollout), not a sub-agent or forked helper, not the TUI's title thread.
pub fn is_candidate(t: &Thread) -> bool {
    let source = t.source.as_str().unwrap_or_default();
    let helper_source = t.source.is_object()
        || matches!(
            source,
            "subAgent" | "sub_agent" | "exec" | "mcp" | "internal"
        );
    !t.ephemeral && t.path.is_some() && t.parent_thread_id.is_none() && !helper_source
}

/// Pick the thread the human is on: the most recently updated candidate;
/// on a tie the current one stays.
pub fn select_thread<'a>(threads: &'a [Thread], current: Option<&str>) -> Option<&'a Thread> {
    threads
        .iter()
        .filter(|t| is_candidate(t))
        .max_by_key(|t| (t.updated_at, Some(t.id.as_str()) == current))
}

/// Turn state as `thread/read {includeTurns:true}` reports it.
pub fn turn_state_of(thread: &Thread) -> TurnState {
    if let Some(turn) = thread
        .turns
        .iter()
        .rev()
        .find(|t| t.status == TurnStatus::InProgress)
    {
        return TurnState::active(turn.id.clone());
    }
    match thread.status {
        Some(ThreadStatus::Active { .. }) => TurnState::active(""),
        _ => TurnState::Idle,
    }
}

/// Every loaded thread, read (without turns); none when the only one
/// loaded is `current` (nothing to choose between). Reading a thread makes
/// Codex load its rollout, and it answers that connection's requests and
/// notifications in turn: reading the followed thread on every tick held
/// an agent message back by tens of ms once its history had grown.
pub async fn loaded_threads(
    conn: &Requester,
    current: Option<&str>,
) -> Result<Vec<Thread>, TransportError> {
    let loaded = conn
        .request::<ThreadLoadedList>(NoParams {}, RPC_TIMEOUT)
        .await?;
    if let ([only], Some(current)) = (loaded.data.as_slice(), current)
        && only == current
    {
        return Ok(Vec::new());
    }
    let mut threads = Vec::with_capacity(loaded.data.len());
    for id in loaded.data {
        match read(conn, &id, false).await {
            Ok(t) => threads.push(t),
            Err(e) => tracing::debug!(thread = %id, "thread/read failed: {e}"),
        }
    }
    Ok(threads)
}

pub async fn read(
    conn: &Requester,
    thread_id: &str,
    include_turns: bool,
) -> Result<Thread, TransportError> {
    let r = conn
        .request::<ThreadRead>(
            ThreadReadParams {
                thread_id: thread_id.to_string(),
                include_turns,
            },
            RPC_TIMEOUT,
        )
        .await?;
    Ok(r.thread)
}

/// Subscribe this connection to `thread_id` (loading it from its rollout
/// when the app-server does not hold it).
pub async fn subscribe(conn: &Connection, thread_id: &str) -> Result<Thread, TransportError> {
    let r = conn
        .request::<ThreadResume>(
            ThreadResumeParams {
                thread_id: thread_id.to_string(),
                exclude_turns: true,
            },
            RPC_TIMEOUT,
        )
        .await?;
    Ok(r.thread)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn thread(id: &str, updated: i64) -> Thread {
        Thread {
            id: id.into(),
            path: Some(format!("/h/sessions/rollout-{id}.jsonl")),
            source: Value::String("cli".into()),
            updated_at: updated,
            ..Thread::default()
        }
    }

    #[test]
    fn title_and_helper_threads_are_never_selected() {
        let tui = thread("tui", 10);
        // The title request's thread: ephemeral, no rollout, newer.
        let title = Thread {
            ephemeral: true,
            path: None,
            ..thread("title", 20)
        };
        let sub = Thread {
            parent_thread_id: Some("tui".into()),
            ..thread("sub", 30)
        };
        let subagent = Thread {
            source: json!({"subAgent": {"thread_spawn": {}}}),
            ..thread("spawned", 40)
        };
        let all = [tui.clone(), title, sub, subagent];
        assert_eq!(
            select_thread(&all, None).map(|t| t.id.as_str()),
            Some("tui")
        );
        assert_eq!(
            select_thread(&all, Some("title")).map(|t| t.id.as_str()),
            Some("tui")
        );
    }

    #[test]
    fn the_most_recently_updated_thread_wins_and_ties_keep_current() {
        let all = [thread("old", 10), thread("new", 20)];
        assert_eq!(
            select_thread(&all, Some("old")).map(|t| t.id.as_str()),
            Some("new")
        );
        let tie = [thread("a", 10), thread("b", 10)];
        assert_eq!(
            select_thread(&tie, Some("a")).map(|t| t.id.as_str()),
            Some("a")
        );
        assert_eq!(
            select_thread(&tie, Some("b")).map(|t| t.id.as_str()),
            Some("b")
        );
        assert!(select_thread(&[], None).is_none());
    }

    #[test]
    fn turn_state_is_read_from_the_thread() {
        let mut t = thread("t", 1);
        assert_eq!(turn_state_of(&t), TurnState::Idle);
        t.turns = serde_json::from_value(json!([
            {"id": "a", "status": "completed"}, {"id": "b", "status": "inProgress"}
        ]))
        .expect("turns");
        assert_eq!(turn_state_of(&t).active_turn(), Some("b"));
        t.turns.clear();
        t.status = Some(ThreadStatus::Active {
            active_flags: vec![],
        });
        let s = turn_state_of(&t);
        assert!(matches!(s, TurnState::Active { .. }) && s.active_turn().is_none());
    }

    #[test]
    fn stalls_are_flagged_once_and_cleared_by_activity() {
        let mut s = Session::new();
        s.turn = TurnState::active("x");
        assert!(s.check_stall(Duration::ZERO));
        assert!(!s.check_stall(Duration::ZERO));
        assert!(matches!(s.turn, TurnState::Active { stalled: true, .. }));
        s.touch();
        assert!(matches!(s.turn, TurnState::Active { stalled: false, .. }));
        assert!(!s.check_stall(Duration::from_secs(60)));
    }
}
