//! The pair's own health: registry entry, the slot's ports (free, or held
//! by this pair's daemon or app-server), state dir and secret modes and
//! owner, the daemon (pidfile plus an authenticated status call), the Codex
//! app-server, and which agents are attached. Each check takes the facts
//! gathered for it, so tests can feed any situation.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Check;
use super::probes::Probes;
use crate::codex::appserver::AppServerState;
use crate::control::protocol::DaemonStatus;
use crate::daemon::pidfile::{DaemonFile, DaemonState};
use crate::pair::Pair;

/// `pair.registry`: whether this project has the pair, and where it lives.
pub fn registry(found: &Result<Option<Pair>, String>, name: &str) -> Check {
    const ID: &str = "pair.registry";
    match found {
        Err(e) => Check::fail(ID, "cannot read the pair registry", e.clone()),
        Ok(None) => {
            let abg = if name == "main" {
                "abg".to_string()
            } else {
                format!("abg --pair {name}")
            };
            Check::warn(
                ID,
                format!("pair {name} is not registered for this project yet; pair checks skipped"),
                format!("`{abg} claude` or `{abg} codex` registers it"),
            )
        }
        Ok(Some(p)) => Check::ok(
            ID,
            format!(
                "pair {} ({}) · slot {} · state {}",
                p.name,
                p.id,
                p.slot,
                p.dir.display()
            ),
        ),
    }
}

/// `pair.ports`: each port of the slot is free or held by this pair.
pub fn ports(p: &dyn Probes, pair: &Pair, ours: &[u32], daemon_up: bool) -> Check {
    const ID: &str = "pair.ports";
    let mut parts = Vec::new();
    let mut foreign = Vec::new();
    for (port, role) in [
        (pair.ports.app, "codex app-server"),
        (pair.ports.reserved, "opencode server"),
        (pair.ports.control, "control"),
    ] {
        if p.port_free(port) {
            parts.push(format!("{port} {role}: free"));
            continue;
        }
        match p.port_owner(port) {
            Some((pid, _)) if ours.contains(&pid) => {
                parts.push(format!("{port} {role}: this pair (pid {pid})"));
            }
            None if daemon_up => {
                parts.push(format!(
                    "{port} {role}: in use (owner not visible; this pair's daemon is up)"
                ));
            }
            owner => {
                let who = owner.map_or_else(
                    || "an unknown process".to_string(),
                    |(pid, name)| format!("pid {pid} ({name})"),
                );
                parts.push(format!("{port} {role}: taken by {who}"));
                foreign.push(who);
            }
        }
    }
    let summary = format!("slot {}: {}", pair.slot, parts.join(" · "));
    if foreign.is_empty() {
        Check::ok(ID, summary)
    } else {
        Check::fail(
            ID,
            summary,
            format!(
                "stop {}, or give abg another port range (ABG_BASE_PORT / ports.base)",
                foreign.join(" and ")
            ),
        )
    }
}

fn my_uid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// A private path: not a symlink, owned by us, no group/other bits.
fn private(id: &'static str, path: &Path, dir: bool, recreate: &str) -> Check {
    let (mode, chmod) = if dir { (0o700, "700") } else { (0o600, "600") };
    let shown = path.display();
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) => {
            return Check::fail(id, format!("{shown}: {e}"), recreate.to_string());
        }
    };
    if meta.file_type().is_symlink() {
        return Check::fail(
            id,
            format!("{shown} is a symlink"),
            format!("remove it; {recreate}"),
        );
    }
    if meta.is_dir() != dir {
        return Check::fail(
            id,
            format!("{shown} has the wrong file type"),
            format!("remove it; {recreate}"),
        );
    }
    let me = my_uid();
    if meta.uid() != me {
        return Check::fail(
            id,
            format!(
                "{shown} is owned by uid {}, not by you (uid {me})",
                meta.uid()
            ),
            format!("remove it (as its owner) or set ABG_STATE_DIR; {recreate}"),
        );
    }
    let actual = meta.mode() & 0o777;
    if actual & 0o077 != 0 {
        return Check::fail(
            id,
            format!("{shown} has mode {actual:04o}, expected {mode:04o}"),
            format!("chmod {chmod} {shown}"),
        );
    }
    Check::ok(id, format!("{shown} ({actual:04o}, owned by you)"))
}

/// `pair.state_dir`: 0700 and ours.
pub fn state_dir(pair: &Pair) -> Check {
    private(
        "pair.state_dir",
        &pair.dir,
        true,
        "`abg claude` or `abg codex` recreates it",
    )
}

/// `pair.secret`: 0600, ours, and exactly what abg writes there.
pub fn secret(pair: &Pair) -> Check {
    let check = private(
        "pair.secret",
        &pair.secret_path(),
        false,
        "`abg claude` or `abg codex` recreates it",
    );
    if check.status != super::Status::Ok {
        return check;
    }
    match pair.secret() {
        Err(crate::paths::PathsError::InvalidSecret { path, why, fix }) => Check::fail(
            "pair.secret",
            format!("{} is not a valid abg secret: {why}", path.display()),
            fix,
        ),
        _ => check,
    }
}

/// What is known about the daemon without starting it.
#[derive(Debug, Clone)]
pub struct DaemonFacts {
    pub state: DaemonState,
    pub file: Option<DaemonFile>,
    /// `abg kill` stopped it on purpose.
    pub killed: bool,
    /// The authenticated status call (made only when the pidfile says ready).
    pub status: Option<Result<DaemonStatus, String>>,
}

/// `daemon`: health and version.
pub fn daemon(f: &DaemonFacts) -> Check {
    const ID: &str = "daemon";
    let pid = f.file.as_ref().map_or(0, |d| d.pid);
    match (f.state, &f.status) {
        (DaemonState::Stopped, _) if f.killed => Check::ok(
            ID,
            "stopped by `abg kill` (the next `abg claude` or `abg codex` starts it)",
        ),
        (DaemonState::Stopped, _) => {
            Check::ok(ID, "not running (`abg claude` or `abg codex` starts it)")
        }
        (DaemonState::Booting, _) => Check::warn(
            ID,
            format!("starting (pid {pid})"),
            "wait a few seconds and run `abg doctor` again; if it stays so, see `abg logs`",
        ),
        (DaemonState::Ready, Some(Ok(s))) if s.version == crate::version() => Check::ok(
            ID,
            format!(
                "ready · pid {} · abg {} (protocol {})",
                s.pid, s.version, s.protocol
            ),
        ),
        (DaemonState::Ready, Some(Ok(s))) => Check::warn(
            ID,
            format!(
                "ready · pid {} runs abg {}, this is abg {}",
                s.pid,
                s.version,
                crate::version()
            ),
            "restart it on this version: `abg kill`, then `abg claude` / `abg codex`",
        ),
        (DaemonState::Ready, Some(Err(e))) => Check::fail(
            ID,
            format!("pidfile says ready (pid {pid}) but the status call failed: {e}"),
            "see `abg logs`; then `abg kill` and start the pair again",
        ),
        (DaemonState::Ready, None) => Check::warn(
            ID,
            format!("pidfile says ready (pid {pid}); status not asked"),
            "run `abg status`",
        ),
    }
}

/// What is known about the pair's Codex app-server.
#[derive(Debug, Clone)]
pub struct AppFacts {
    pub state: Option<AppServerState>,
    pub alive: bool,
    /// `GET /readyz` answered (asked only when alive).
    pub ready: bool,
}

/// `codex.app_server`.
pub fn app_server(f: &AppFacts, daemon_up: bool) -> Check {
    const ID: &str = "codex.app_server";
    match &f.state {
        None => Check::ok(ID, "not running (the daemon starts it for `abg codex`)"),
        Some(s) if f.alive && !daemon_up => Check::warn(
            ID,
            format!(
                "pid {} runs without its daemon (a killed daemon's; its guard stops it once no TUI uses it)",
                s.pid
            ),
            "`abg codex` brings the daemon back, which adopts it; `abg kill` stops it",
        ),
        Some(s) if f.alive && f.ready => Check::ok(
            ID,
            format!(
                "ready · pid {} on 127.0.0.1:{} · {} · mode {:?}",
                s.pid, s.port, s.version, s.mode
            ),
        ),
        Some(s) if f.alive => Check::warn(
            ID,
            format!(
                "pid {} runs but 127.0.0.1:{}/readyz does not answer",
                s.pid, s.port
            ),
            "see the app-server log in the pair's state dir; `abg kill` and `abg codex` restart it",
        ),
        Some(s) if daemon_up => Check::warn(
            ID,
            format!("the recorded app-server (pid {}) is gone", s.pid),
            "the daemon restarts it; if not, `abg kill` and run `abg codex` again",
        ),
        Some(s) => Check::ok(ID, format!("not running (last: pid {})", s.pid)),
    }
}

/// `agents`: which agents the daemon sees attached.
pub fn agents(status: Option<&DaemonStatus>) -> Check {
    const ID: &str = "agents";
    let word = |b: bool| if b { "attached" } else { "not attached" };
    match status {
        None => Check::ok(ID, "none attached (the daemon is not running)"),
        Some(s) => Check::ok(
            ID,
            s.peers
                .iter()
                .map(|(id, p)| format!("{id} {}", word(p.attached)))
                .collect::<Vec<_>>()
                .join(" · "),
        ),
    }
}
