//! The `orphans` check: processes abg started that run on with nobody to
//! come back for them, across every pair of every project.
//!
//! Why it exists: a pair's Codex app-server outlives a killed daemon on
//! purpose (the human's TUI keeps working; the next daemon adopts it), and
//! its guard ends it after `daemon.orphan_grace_secs` without daemon and
//! client. Doctor still looks, since a guard can be killed too: an
//! app-server whose daemon is dead is reported, as is a daemon whose
//! project directory is gone, each with the command that stops it.

use std::path::PathBuf;

use super::Check;
use crate::daemon::pidfile;
use crate::pair::Pair;

/// A recorded app-server running without its daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanApp {
    pub pair: String,
    pub root: PathBuf,
    pub pid: u32,
    /// Clients connected to it (the Codex TUI).
    pub clients: usize,
}

/// A live daemon whose project directory is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrphanDaemon {
    pub pair: String,
    pub root: PathBuf,
    pub pid: u32,
}

/// What the check looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facts {
    pub apps: Vec<OrphanApp>,
    pub daemons: Vec<OrphanDaemon>,
}

/// Collect the facts for `pairs` (read-only: no process is signalled).
pub fn gather(pairs: &[Pair]) -> Facts {
    let mut facts = Facts::default();
    for pair in pairs {
        if let Some(found) = crate::codex::orphan::find(pair).filter(|f| f.orphaned()) {
            facts.apps.push(OrphanApp {
                pair: pair.name.clone(),
                root: pair.root.clone(),
                pid: found.state.pid,
                clients: found.clients,
            });
        }
        let (state, file) = pidfile::state(pair);
        if let Some(file) = file.filter(|_| state != pidfile::DaemonState::Stopped)
            && !pair.root.exists()
        {
            facts.daemons.push(OrphanDaemon {
                pair: pair.name.clone(),
                root: pair.root.clone(),
                pid: file.pid,
            });
        }
    }
    facts
}

/// The command that stops the processes of `pair` in `root`.
fn stop_command(pair: &str, root: &std::path::Path) -> String {
    if root.exists() {
        format!("cd {} && abg --pair {pair} kill", root.display())
    } else {
        "abg pair prune".to_string()
    }
}

/// `orphans`.
pub fn check(f: &Facts) -> Check {
    const ID: &str = "orphans";
    if f.apps.is_empty() && f.daemons.is_empty() {
        return Check::ok(ID, "no orphaned codex app-server or daemon");
    }
    let mut found = Vec::new();
    let mut fixes = Vec::new();
    for a in &f.apps {
        found.push(format!(
            "codex app-server pid {} of pair {} ({}) runs without its daemon, {} client(s)",
            a.pid,
            a.pair,
            a.root.display(),
            a.clients
        ));
        fixes.push(stop_command(&a.pair, &a.root));
    }
    for d in &f.daemons {
        found.push(format!(
            "daemon pid {} of pair {} serves {}, which is gone",
            d.pid,
            d.pair,
            d.root.display()
        ));
        fixes.push(stop_command(&d.pair, &d.root));
    }
    fixes.dedup();
    Check::warn(
        ID,
        found.join("; "),
        format!(
            "`{}` (or `abg kill --all` for every pair)",
            fixes.join("`, `")
        ),
    )
}
