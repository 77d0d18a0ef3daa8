//! A pair's `codex app-server` that nobody will come back for: how to tell
//! one, and how to stop it.
//!
//! Why it exists: the app-server deliberately outlives a killed daemon (it
//! keeps serving the human's TUI, and the next daemon adopts it), so
//! something other than the daemon must end it once neither will come
//! back: its guard (`super::guard`), and `abg kill`, `abg pair prune`,
//! `abg pair list` and `abg doctor`, which look at what the daemon
//! recorded. This module holds what they share: whether a recorded
//! app-server is still that process (its start time, so a reused pid is
//! never signalled), whether the pair's daemon is alive, how many clients
//! hold a connection to its port, and a bounded stop (SIGTERM to its
//! process group, a wait, SIGKILL).

use std::path::Path;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::appstate::{self, AppServerState};
use crate::daemon::pidfile;
use crate::pair::Pair;

/// How long a stopped app-server gets to drain after the first SIGTERM.
pub const TERM_WAIT: Duration = Duration::from_secs(3);
/// How long it gets after the second SIGTERM (Codex 0.169 waits for its
/// running turns on the first one, which a pending approval never ends;
/// a second SIGTERM makes it exit at once).
pub const FORCE_WAIT: Duration = Duration::from_secs(2);
/// The longest a stop by the guard (`super::guard`) takes (then SIGKILL, reaped at once).
pub const STOP_BOUND: Duration = Duration::from_secs(6);
/// How long a stop waits after SIGKILL.
pub const KILL_WAIT: Duration = Duration::from_secs(2);

/// Whether `pid` is a live process (a zombie is not).
pub fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    raw > 0 && kill(Pid::from_raw(raw), None).is_ok() && !pidfile::is_zombie(pid)
}

/// Field `n` (1-based, as in proc(5)) of `/proc/<pid>/stat`, for the
/// fields after the command name (n >= 3).
fn stat_field(pid: u32, n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

/// The process group `pid` is in.
pub fn process_group(pid: u32) -> Option<u32> {
    stat_field(pid, 5).and_then(|g| u32::try_from(g).ok())
}

/// Whether `pid` is alive and is the process started at `start_time`
/// (when it was recorded).
fn same_process(pid: u32, start_time: Option<u64>) -> bool {
    alive(pid)
        && match start_time {
            Some(t) => pidfile::process_start_time(pid) == Some(t),
            None => true,
        }
}

/// Whether the recorded app-server is still that process: its start time
/// matches, or (a state file from before start times were recorded) its
/// command line is a `codex app-server` on the recorded port.
pub fn is_running(state: &AppServerState) -> bool {
    if state.start_time.is_some() {
        return same_process(state.pid, state.start_time);
    }
    alive(state.pid)
        && std::fs::read(format!("/proc/{}/cmdline", state.pid)).is_ok_and(|c| {
            let c = String::from_utf8_lossy(&c);
            c.contains("app-server") && c.contains(&format!("127.0.0.1:{}", state.port))
        })
}

/// Whether the recorded guard is still that process.
pub fn guard_running(state: &AppServerState) -> bool {
    state
        .guard
        .is_some_and(|g| same_process(g, state.guard_start_time))
}

/// Whether the daemon the pidfile in `pair_dir` names is alive.
pub fn daemon_alive(pair_dir: &Path) -> bool {
    pidfile::read_path(&pair_dir.join("daemon.json")).is_some_and(|f| pidfile::is_alive(&f))
}

/// Established TCP connections whose local end is `port`: the server side
/// of each client connected to a listener on it. Read from
/// `/proc/net/tcp` and `/proc/net/tcp6` by `procfs` (the caller's network namespace);
/// 0 where they cannot be read.
pub fn clients(port: u16) -> usize {
    [procfs::net::tcp(), procfs::net::tcp6()]
        .into_iter()
        .filter_map(Result::ok)
        .flatten()
        .filter(|e| e.state == procfs::net::TcpState::Established && e.local_address.port() == port)
        .count()
}

/// A recorded app-server that is running, as a CLI sees it.
#[derive(Debug, Clone)]
pub struct Found {
    pub state: AppServerState,
    /// Whether the pair's daemon is alive (then it owns the app-server).
    pub daemon_alive: bool,
    /// Clients connected to its port (a TUI; the daemon when alive).
    pub clients: usize,
}

impl Found {
    /// Running without its daemon.
    pub fn orphaned(&self) -> bool {
        !self.daemon_alive
    }

    /// Running without its daemon and without any client: nobody will
    /// come back for it.
    pub fn abandoned(&self) -> bool {
        self.orphaned() && self.clients == 0
    }
}

/// The pair's recorded app-server, when it is still running.
pub fn find(pair: &Pair) -> Option<Found> {
    let state = appstate::read_state(pair)?;
    if !is_running(&state) {
        return None;
    }
    Some(Found {
        daemon_alive: daemon_alive(&pair.dir),
        clients: clients(state.port),
        state,
    })
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    /// It was not running (a stale state file was removed).
    NotRunning,
    /// It exited on SIGTERM.
    Terminated,
    /// It needed SIGKILL.
    Killed,
    /// It survived SIGKILL (not expected; reported, state kept).
    Survived,
}

impl Stopped {
    pub fn as_str(self) -> &'static str {
        match self {
            Stopped::NotRunning => "was not running",
            Stopped::Terminated => "stopped (SIGTERM)",
            Stopped::Killed => "killed (SIGKILL)",
            Stopped::Survived => "did not exit after SIGKILL",
        }
    }
}

/// Stop the pair's recorded app-server if it is still that process, and
/// remove the state file once it is gone. Blocking (bounded by
/// about 10 s).
pub fn stop_recorded(pair: &Pair) -> Stopped {
    let Some(state) = appstate::read_state(pair) else {
        return Stopped::NotRunning;
    };
    let file = appstate::state_file(pair);
    if !is_running(&state) {
        if !guard_running(&state) {
            remove_state_if(&file, state.pid);
        }
        return Stopped::NotRunning;
    }
    let how = terminate(&state);
    if how != Stopped::Survived {
        remove_state_if(&file, state.pid);
    }
    how
}

/// Stop a recorded app-server the caller has checked is running. With a
/// live guard: SIGTERM to the guard, which stops its app-server (see
/// `guard`), then SIGKILL to the group should that take longer than the
/// guard's own bound. Without one (a state file from before guards): the
/// same steps on the app-server's process group here: SIGTERM, a second
/// SIGTERM (Codex waits for running turns on the first), SIGKILL.
pub fn terminate(state: &AppServerState) -> Stopped {
    let target = target_group(state);
    let guard = state.guard.filter(|_| guard_running(state));
    let how = match guard {
        Some(g) => {
            send(g, None, Signal::SIGTERM);
            if wait_gone(state.pid, STOP_BOUND + Duration::from_secs(1)) {
                Stopped::Terminated
            } else {
                Stopped::Killed
            }
        }
        None => {
            send(state.pid, target, Signal::SIGTERM);
            if wait_gone(state.pid, TERM_WAIT) {
                Stopped::Terminated
            } else {
                send(state.pid, target, Signal::SIGTERM);
                if wait_gone(state.pid, FORCE_WAIT) {
                    Stopped::Terminated
                } else {
                    Stopped::Killed
                }
            }
        }
    };
    let how = if how == Stopped::Killed {
        send(state.pid, target, Signal::SIGKILL);
        if wait_gone(state.pid, KILL_WAIT) {
            Stopped::Killed
        } else {
            Stopped::Survived
        }
    } else {
        how
    };
    // The guard exits once its app-server has; a stuck one is killed.
    if let Some(g) = guard
        && !wait_gone(g, KILL_WAIT)
    {
        send(g, None, Signal::SIGKILL);
        wait_gone(g, KILL_WAIT);
    }
    how
}

/// The process group to signal: the one the app-server is in, when that
/// is its own or its guard's (never the caller's own group).
fn target_group(state: &AppServerState) -> Option<u32> {
    let group = process_group(state.pid)?;
    let mine = u32::try_from(nix::unistd::getpgrp().as_raw()).ok();
    let ours = group == state.pid || Some(group) == state.guard;
    (ours && Some(group) != mine && group > 1).then_some(group)
}

fn send(pid: u32, group: Option<u32>, sig: Signal) {
    match group.and_then(|g| i32::try_from(g).ok()) {
        Some(g) => {
            let _ = killpg(Pid::from_raw(g), sig);
        }
        None => {
            if let Ok(p) = i32::try_from(pid) {
                let _ = kill(Pid::from_raw(p), sig);
            }
        }
    }
}

/// Polls until `pid` is gone or `within` has passed; whether it is gone.
pub fn wait_gone(pid: u32, within: Duration) -> bool {
    let end = Instant::now() + within;
    loop {
        if !alive(pid) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Remove the state file at `path` if it still names `pid` (never one a
/// newer app-server wrote).
pub fn remove_state_if(path: &Path, pid: u32) {
    let names = std::fs::read_to_string(path)
        .ok()
        .and_then(|t| serde_json::from_str::<AppServerState>(&t).ok())
        .is_some_and(|s| s.pid == pid);
    if names {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_a_real_connection() {
        let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let port = listener.local_addr().expect("addr").port();
        assert_eq!(clients(port), 0);
        let _c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (_s, _) = listener.accept().expect("accept");
        assert_eq!(clients(port), 1);
    }

    #[test]
    fn a_reused_pid_is_not_the_recorded_process() {
        let me = std::process::id();
        let start = pidfile::process_start_time(me);
        assert!(same_process(me, start));
        assert!(!same_process(me, start.map(|s| s + 1)));
        assert!(!same_process(u32::MAX, None));
    }
}
