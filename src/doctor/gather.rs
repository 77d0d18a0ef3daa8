//! Runs every check for one project and pair: resolves the project root
//! and config (a broken config is a failed check, not an abort), finds the
//! pair without creating it, collects the daemon, app-server and store
//! facts (never starting anything), and assembles the [`Report`].

use std::path::PathBuf;
use std::time::Duration;

use super::pair::{AppFacts, DaemonFacts};
use super::probes::Probes;
use super::{Check, Report, claude, orphans, pair, store, tools};
use crate::config::{Config, Settings};
use crate::daemon::pidfile::{self, DaemonState};
use crate::pair::registry::Registry;
use crate::pair::{Pair, PairError, PairName, project_root};

/// What doctor is asked to check.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Where abg was run (the project root is found from here).
    pub cwd: PathBuf,
    /// `--pair` (default: main).
    pub pair: Option<String>,
    /// Claude Code's managed settings file (org policy).
    pub managed_settings: PathBuf,
}

fn config_check(root: &std::path::Path) -> (Check, Settings) {
    match Config::load_default(Some(root)) {
        Ok(cfg) => {
            let project = crate::config::project_config_path(root);
            let note = if project.exists() {
                format!("loaded (project file {})", project.display())
            } else {
                "loaded (no project .abg/config.toml; `abg init` writes one)".to_string()
            };
            (Check::ok("config", note), cfg.settings)
        }
        Err(e) => (
            Check::fail(
                "config",
                format!(
                    "invalid configuration: {}",
                    e.to_string().replace('\n', "; ")
                ),
                "fix the file or variable named above; doctor used the built-in defaults",
            ),
            Settings::default(),
        ),
    }
}

fn alive(pid: u32) -> bool {
    i32::try_from(pid)
        .is_ok_and(|raw| nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_ok())
}

async fn daemon_facts(pair: &Pair) -> DaemonFacts {
    let (state, file) = pidfile::state(pair);
    let status = if state == DaemonState::Ready {
        let call = async {
            let client =
                crate::control::client::Client::for_pair(pair).map_err(|e| e.to_string())?;
            client.status().await.map_err(|e| e.to_string())
        };
        Some(
            tokio::time::timeout(Duration::from_secs(5), call)
                .await
                .unwrap_or_else(|_| Err("timed out".to_string())),
        )
    } else {
        None
    };
    DaemonFacts {
        state,
        file,
        killed: pair.killed_file().exists(),
        status,
    }
}

async fn app_facts(pair: &Pair) -> AppFacts {
    let state = crate::codex::appserver::read_state(pair);
    let alive = state.as_ref().is_some_and(|s| alive(s.pid));
    let ready = match &state {
        Some(s) if alive => crate::codex::appserver::ready(s.port).await,
        _ => false,
    };
    AppFacts {
        state,
        alive,
        ready,
    }
}

/// Every registered pair (none when the registry cannot be read; the
/// `pair.registry` check reports that).
fn every_pair(settings: &Settings) -> Vec<Pair> {
    crate::paths::state_base()
        .ok()
        .and_then(|base| Registry::new(&base, settings.ports_base).list().ok())
        .unwrap_or_default()
}

/// The channel verdict from Claude's debug log of the last `abg claude`.
fn channel_from_log(pair: &Pair) -> Option<(bool, Option<String>)> {
    let text = std::fs::read_to_string(pair.log_dir().join("claude-debug.log")).ok()?;
    match crate::claude::setup::last_registration(&text)? {
        Ok(()) => Some((true, None)),
        Err(reason) => Some((false, Some(reason))),
    }
}

/// Run every check. Errors only when the project root cannot be resolved.
pub async fn diagnose(p: &dyn Probes, inputs: &Inputs) -> Result<Report, PairError> {
    let root = project_root(&inputs.cwd)?;
    let name = PairName::new(inputs.pair.as_deref().unwrap_or("main"))?;
    let (config, settings) = config_check(&root);
    let mut checks = vec![config];
    checks.extend(tools::checks(
        p,
        &settings.claude_binary,
        &settings.codex_binary,
    ));
    checks.extend(tools::optional_checks(p, &settings.opencode_binary));

    let found: Result<Option<Pair>, String> = crate::paths::state_base()
        .map_err(|e| e.to_string())
        .and_then(|base| {
            Registry::new(&base, settings.ports_base)
                .find(&root, &name)
                .map_err(|e| e.to_string())
        });
    let registry_check = pair::registry(&found, name.as_str());
    let orphans_check = orphans::check(&orphans::gather(&every_pair(&settings)));
    let Ok(Some(the_pair)) = found else {
        checks.extend(claude::checks(p, &inputs.managed_settings, None));
        checks.push(registry_check);
        checks.push(orphans_check);
        return Ok(Report::new(
            root.display().to_string(),
            name.to_string(),
            checks,
        ));
    };

    let daemon = daemon_facts(&the_pair).await;
    let app = app_facts(&the_pair).await;
    let store_path = the_pair.store_file();
    let store_facts = store::read(&store_path);
    let observed = match &store_facts {
        store::Facts::Read(c) if c.channel.is_some() => c.channel.clone(),
        _ => channel_from_log(&the_pair),
    };
    checks.extend(claude::checks(p, &inputs.managed_settings, observed));
    checks.push(registry_check);

    let daemon_up = daemon.state != DaemonState::Stopped;
    let mut ours: Vec<u32> = daemon.file.iter().map(|f| f.pid).collect();
    if let Some(s) = app.state.as_ref().filter(|_| app.alive) {
        ours.push(s.pid);
    }
    // The OpenCode server (optional peer) holds the block's +1 port.
    if let Some(s) = crate::opencode::server::read_state(&the_pair)
        && crate::daemon::pidfile::process_start_time(s.pid) == s.start_time
    {
        ours.push(s.pid);
    }
    checks.push(pair::ports(p, &the_pair, &ours, daemon_up));
    checks.push(pair::state_dir(&the_pair));
    checks.push(pair::secret(&the_pair));
    checks.push(pair::daemon(&daemon));
    checks.push(pair::app_server(&app, daemon_up));
    let status = daemon.status.as_ref().and_then(|s| s.as_ref().ok());
    checks.push(pair::agents(status));
    checks.extend(store::checks(&store_path, &store_facts));
    checks.push(orphans_check);
    Ok(Report::new(
        root.display().to_string(),
        name.to_string(),
        checks,
    ))
}
