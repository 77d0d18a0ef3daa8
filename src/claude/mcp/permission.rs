//! `abg mcp`'s half of Claude's channel permission relay (verified on the
//! pinned Claude Code in `tests/reference/approvals.md` §2). With
//! `approvals.relay` on, the server declares
//! `experimental["claude/channel/permission"]`; Claude then sends
//! `notifications/claude/channel/permission_request` {request_id,
//! tool_name, description, input_preview} for each permission dialog it
//! opens, and takes `notifications/claude/channel/permission` {request_id,
//! behavior: allow|deny} as an answer while the dialog is open (the first
//! answer wins; its own dialog stays usable throughout).
//!
//! This module keeps the requests still open ([`Relay`]), so they are
//! forwarded again after a daemon restart, and reads Claude's debug log
//! for what Claude sends the relay nothing about: a dialog answered in the
//! TUI (the tool dispatched, or refused) and an answer of abg's that came
//! too late. The log lines are Claude's own ([`scan`]); when they do not
//! show, an entry simply stays pending until a person answers it, and an
//! answer to a closed dialog is dropped by Claude: nothing is approved that
//! a person did not approve.

use std::collections::VecDeque;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::Value;

use crate::claude::protocol::{PermissionRequest, Settled};

/// What Claude sends for an open dialog.
pub const REQUEST_METHOD: &str = "notifications/claude/channel/permission_request";
/// What the relay answers with.
pub const ANSWER_METHOD: &str = "notifications/claude/channel/permission";
/// The capability that turns the relay on.
pub const CAPABILITY: &str = "claude/channel/permission";

/// How many open (and recently answered) requests are kept.
const KEEP: usize = 64;
/// How much of the debug log one look reads at most.
const MAX_READ: u64 = 4 * 1024 * 1024;

/// Claude's params, checked; the error says what was wrong.
pub fn parse_request(session: &str, params: Option<&Value>) -> Result<PermissionRequest, String> {
    let Some(obj) = params.and_then(Value::as_object) else {
        return Err("permission_request without params".into());
    };
    let text = |key: &str, required: bool| -> Result<String, String> {
        match obj.get(key) {
            Some(Value::String(s)) if !(required && s.is_empty()) => Ok(s.clone()),
            None | Some(Value::Null) if !required => Ok(String::new()),
            other => Err(format!(
                "permission_request param {key:?} must be a{} string, got {}",
                if required { " non-empty" } else { "" },
                other.map_or("nothing".to_string(), |v| v.to_string())
            )),
        }
    };
    Ok(PermissionRequest {
        session: session.to_string(),
        request_id: text("request_id", true)?,
        tool_name: text("tool_name", true)?,
        description: text("description", false)?,
        input_preview: text("input_preview", false)?,
    })
}

/// One thing Claude's debug log says about permission dialogs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogEvent {
    /// `[Stall] tool_dispatch_start tool=T …`: a tool was let run.
    Dispatched { tool: String },
    /// `T tool permission denied`: a tool was refused.
    Denied { tool: String },
    /// `… channel/permission: ID → B (no pending entry …)`: an answer of
    /// the relay found no open dialog.
    NoPending { request_id: String },
}

/// The events in complete debug-log lines `text`, each with the byte
/// offset (within `text`) of its line.
pub fn scan(text: &str) -> Vec<(usize, LogEvent)> {
    let mut out = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        let start = at;
        at += line.len();
        // "<timestamp> [LEVEL] message"
        let Some((_, msg)) = line.trim_end().split_once("] ") else {
            continue;
        };
        if let Some(rest) = msg.strip_prefix("[Stall] tool_dispatch_start tool=") {
            let tool = rest.split_whitespace().next().unwrap_or("").to_string();
            out.push((start, LogEvent::Dispatched { tool }));
        } else if let Some(tool) = msg.strip_suffix(" tool permission denied") {
            if !tool.contains(' ') {
                out.push((
                    start,
                    LogEvent::Denied {
                        tool: tool.to_string(),
                    },
                ));
            }
        } else if let Some((_, rest)) = msg.split_once("notifications/claude/channel/permission: ")
            && rest.contains("(no pending entry")
            && let Some(id) = rest.split_whitespace().next()
        {
            out.push((
                start,
                LogEvent::NoPending {
                    request_id: id.to_string(),
                },
            ));
        }
    }
    out
}

struct Open {
    request: PermissionRequest,
    /// Debug-log size when it arrived: only later lines can settle it.
    since: u64,
}

#[derive(Default)]
struct State {
    open: VecDeque<Open>,
    /// Requests abg answered (a later "no pending entry" makes them stale).
    answered: VecDeque<String>,
    /// How far the debug log has been read.
    read: u64,
}

/// The open requests of this `abg mcp` process and its debug-log reader.
pub struct Relay {
    session: String,
    debug_log: Option<PathBuf>,
    state: Mutex<State>,
}

impl Relay {
    /// A relay for this process (`session`: a fresh random id) reading
    /// Claude's debug log at `debug_log`, when known.
    pub fn new(session: String, debug_log: Option<PathBuf>) -> Self {
        Self {
            session,
            debug_log,
            state: Mutex::default(),
        }
    }

    pub fn session(&self) -> &str {
        &self.session
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Claude opened a dialog.
    pub fn opened(&self, request: PermissionRequest) {
        let since = self.log_len();
        let mut st = self.lock();
        st.open
            .retain(|o| o.request.request_id != request.request_id);
        st.open.push_back(Open { request, since });
        while st.open.len() > KEEP {
            st.open.pop_front();
        }
    }

    /// abg sent Claude an answer for `request_id`.
    pub fn answered(&self, request_id: &str) {
        let mut st = self.lock();
        st.open.retain(|o| o.request.request_id != request_id);
        st.answered.push_back(request_id.to_string());
        while st.answered.len() > KEEP {
            st.answered.pop_front();
        }
    }

    /// The requests still open (to forward again after a reconnect).
    pub fn open_requests(&self) -> Vec<PermissionRequest> {
        self.lock().open.iter().map(|o| o.request.clone()).collect()
    }

    /// Whether anything is worth reading the log for.
    pub fn watching(&self) -> bool {
        let st = self.lock();
        !st.open.is_empty() || !st.answered.is_empty()
    }

    fn log_len(&self) -> u64 {
        self.debug_log
            .as_deref()
            .and_then(|p| std::fs::metadata(p).ok())
            .map_or(0, |m| m.len())
    }

    /// Read the debug log's new complete lines and settle what they show:
    /// the requests whose dialog closed without abg's answer, and abg's
    /// answers Claude dropped.
    pub fn poll(&self) -> Vec<(String, Settled)> {
        let Some(path) = self.debug_log.as_deref() else {
            return Vec::new();
        };
        let from = self.lock().read;
        let Some((text, base)) = read_from(path, from) else {
            return Vec::new();
        };
        let complete = text.rfind('\n').map_or(0, |i| i + 1);
        let mut st = self.lock();
        st.read = base + complete as u64;
        let mut settled = Vec::new();
        for (offset, event) in scan(&text[..complete]) {
            let at = base + offset as u64;
            match event {
                LogEvent::Dispatched { tool } => {
                    settle(&mut st, &tool, at, Settled::Allowed, &mut settled);
                }
                LogEvent::Denied { tool } => {
                    settle(&mut st, &tool, at, Settled::Denied, &mut settled);
                }
                LogEvent::NoPending { request_id } => {
                    if let Some(i) = st.answered.iter().position(|r| *r == request_id) {
                        st.answered.remove(i);
                        settled.push((request_id, Settled::Stale));
                    }
                }
            }
        }
        settled
    }
}

/// The oldest open request for `tool` that arrived before the line at
/// `at` closes as `how`.
fn settle(st: &mut State, tool: &str, at: u64, how: Settled, out: &mut Vec<(String, Settled)>) {
    if let Some(i) = st
        .open
        .iter()
        .position(|o| o.since <= at && o.request.tool_name == tool)
        && let Some(o) = st.open.remove(i)
    {
        out.push((o.request.request_id, how));
    }
}

/// The file's text from byte `from` (from 0 when it was cut shorter:
/// Claude started a new log), at most [`MAX_READ`], with the offset it
/// starts at.
fn read_from(path: &Path, from: u64) -> Option<(String, u64)> {
    let mut f = std::fs::File::open(path).ok()?;
    let len = f.metadata().ok()?.len();
    let start = if len < from { 0 } else { from };
    f.seek(SeekFrom::Start(start)).ok()?;
    let mut buf = Vec::new();
    f.take(MAX_READ).read_to_end(&mut buf).ok()?;
    Some((String::from_utf8_lossy(&buf).into_owned(), start))
}

#[cfg(test)]
mod tests;
