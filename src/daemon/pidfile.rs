//! The daemon's pidfile, `daemon.json`: pid, process start time (so a
//! reused pid is never mistaken for the daemon), version, protocol, ports
//! and phase. Published atomically by the daemon after it has bound its
//! control port; read by every client to find and judge it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::control::protocol::Phase;
use crate::pair::Pair;
use crate::paths::{self, PathsError};

/// Contents of `daemon.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonFile {
    pub pid: u32,
    /// Kernel start time of `pid` (clock ticks since boot on Linux).
    pub start_time: Option<u64>,
    pub version: String,
    pub protocol: u32,
    pub control_port: u16,
    pub phase: Phase,
    pub started_ms: i64,
}

/// What a client can tell about a pair's daemon without talking to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DaemonState {
    Stopped,
    Booting,
    Ready,
}

impl DaemonState {
    pub fn as_str(self) -> &'static str {
        match self {
            DaemonState::Stopped => "stopped",
            DaemonState::Booting => "booting",
            DaemonState::Ready => "ready",
        }
    }
}

/// Read the pidfile; `None` when absent or unreadable as a pidfile.
pub fn read(pair: &Pair) -> Option<DaemonFile> {
    read_path(&pair.daemon_file())
}

/// [`read`] of the pidfile at `path`.
pub fn read_path(path: &Path) -> Option<DaemonFile> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}

/// Publish the pidfile atomically (0600).
pub fn write(pair: &Pair, file: &DaemonFile) -> Result<(), PathsError> {
    let json = serde_json::to_vec_pretty(file).unwrap_or_default();
    paths::write_private_file(&pair.daemon_file(), &json)
}

/// Remove the pidfile if it still names `pid` (never another daemon's).
pub fn remove_if_ours(pair: &Pair, pid: u32) {
    if read(pair).is_some_and(|f| f.pid == pid) {
        let _ = std::fs::remove_file(pair.daemon_file());
    }
}

/// Start time of a process, used to tell a live daemon from a reused pid.
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: parse
    // after the last ')'. Start time is field 22, i.e. index 19 after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether `pid` has exited but not been reaped yet.
pub fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 1..];
            rest.split_whitespace().next().map(|s| s == "Z" || s == "X")
        })
        .unwrap_or(false)
}

/// Whether the process the pidfile names is still that process.
pub fn is_alive(file: &DaemonFile) -> bool {
    let Ok(pid) = i32::try_from(file.pid) else {
        return false;
    };
    if nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_err() {
        return false;
    }
    if is_zombie(file.pid) {
        return false;
    }
    match (file.start_time, process_start_time(file.pid)) {
        (Some(recorded), Some(now)) => recorded == now,
        // No /proc (not Linux): trust the pid.
        (None, _) | (_, None) => true,
    }
}

/// The daemon's state as far as the pidfile and the process table tell.
pub fn state(pair: &Pair) -> (DaemonState, Option<DaemonFile>) {
    match read(pair) {
        Some(file) if is_alive(&file) => {
            let state = match file.phase {
                Phase::Ready => DaemonState::Ready,
                Phase::Booting => DaemonState::Booting,
                Phase::Stopping => DaemonState::Stopped,
            };
            (state, Some(file))
        }
        _ => (DaemonState::Stopped, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_and_fake_start_time_is_not() {
        let me = std::process::id();
        let start = process_start_time(me);
        assert!(start.is_some());
        let mut file = DaemonFile {
            pid: me,
            start_time: start,
            version: "x".into(),
            protocol: 1,
            control_port: 1,
            phase: Phase::Ready,
            started_ms: 0,
        };
        assert!(is_alive(&file));
        file.start_time = start.map(|s| s + 1);
        assert!(!is_alive(&file), "a reused pid must not count as alive");
        file.pid = u32::MAX;
        assert!(!is_alive(&file));
    }
}
