//! `abg claude` for real: take the pair's lock, write the MCP config (for
//! the generated way) and settings (0600), run the real `claude` under the PTY supervisor, report
//! the channel registration from Claude's debug log to the daemon (one line
//! to the user when channels are unavailable), and ring the PTY doorbell
//! when the daemon says a message has waited too long for an idle Claude.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::channel::Via;
use super::launch::{self, LaunchFiles};
use super::policy;
use super::protocol::{ClaudeAnswer, ClaudeRequest};
use super::setup;
use super::wsclient::ControlLink;
use crate::config::Config;
use crate::control::protocol::Role;
use crate::pair::Pair;
use crate::pty::{
    InjectOptions, Injector, LaunchSpec, RealTerminal, Supervisor, SupervisorOptions,
};

/// What to run.
pub struct Request<'a> {
    pub pair: &'a Pair,
    pub config: &'a Config,
    pub user_args: &'a [String],
    pub safe: bool,
    /// The way abg is loaded into Claude (see [`super::channel::decide`]).
    pub via: Via,
}

pub use super::launch::Files;

/// The launch plan (also printed by `--dry-run`-style callers).
pub fn plan(req: &Request<'_>, files: &Files) -> anyhow::Result<launch::Launch> {
    Ok(launch::plan(
        &req.config.settings.claude_binary,
        &LaunchFiles {
            mcp_config: &files.mcp,
            settings: &files.settings,
            debug_log: &files.debug,
        },
        req.user_args,
        req.safe,
        req.via,
    )?)
}

/// Run Claude until it exits; returns its exit code.
pub async fn run(req: Request<'_>) -> anyhow::Result<i32> {
    let pair = req.pair;
    let _lock = setup::lock(&pair.dir)?;
    let files = Files::for_pair(pair);
    let plan = plan(&req, &files)?;
    let exe = std::env::current_exe().context("cannot find abg's own executable")?;
    let env = setup::pair_env(&pair.root, &pair.name, req.via);
    if req.via == Via::Generated {
        setup::write_private(
            &files.mcp,
            &serde_json::to_string_pretty(&setup::mcp_config(&exe, &env))?,
        )?;
    } else {
        let _ = std::fs::remove_file(&files.mcp);
    }
    setup::write_private(
        &files.settings,
        &serde_json::to_string_pretty(&setup::settings(&exe, req.via))?,
    )?;
    std::fs::create_dir_all(pair.log_dir()).context("cannot create the pair's log dir")?;
    let _ = std::fs::remove_file(&files.debug);
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let mut spec = LaunchSpec::new(&plan.program).args(&plan.args).cwd(cwd);
    for (k, v) in &env {
        spec = spec.env(k, v);
    }
    let sup = Supervisor::spawn(spec, RealTerminal::new(), SupervisorOptions::default())
        .with_context(|| format!("cannot start {}", plan.program))?;
    let unavailable: Arc<Mutex<Option<String>>> = Arc::default();
    let watcher = tokio::spawn(watch_registration(
        pair.clone(),
        files.debug.clone(),
        req.via.server_name(),
        Arc::clone(&unavailable),
    ));
    let doorbell = tokio::spawn(doorbell_loop(pair.clone(), sup.injector()));
    let status = sup.wait_async().await?;
    watcher.abort();
    doorbell.abort();
    if let Some(reason) = unavailable.lock().ok().and_then(|g| g.clone()) {
        eprintln!("{}", setup::unavailable_line(&reason));
    }
    Ok(status.code())
}

async fn connect(pair: &Pair) -> Option<ControlLink> {
    let secret = pair.secret().ok()?;
    ControlLink::connect(pair.ports.control, &secret, Role::Cli)
        .await
        .ok()
        .map(|(link, _)| link)
}

/// Tell the daemon (and the user) whether Claude registered abg's channel
/// (the server named `server` in Claude's debug log).
async fn watch_registration(
    pair: Pair,
    debug: PathBuf,
    server: &'static str,
    unavailable: Arc<Mutex<Option<String>>>,
) {
    let started = Instant::now();
    let verdict = loop {
        if let Some(v) = read_registration(&debug, server) {
            break v;
        }
        if started.elapsed() > Duration::from_secs(120) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let (registered, reason) = match verdict {
        Ok(()) => (true, None),
        Err(r) => (false, Some(r)),
    };
    if let Some(r) = &reason {
        if let Ok(mut g) = unavailable.lock() {
            *g = Some(r.clone());
        }
        // Raw mode: return to column 0 on both sides of the line.
        eprint!("\r\n{}\r\n", setup::unavailable_line(r));
    }
    for _ in 0..20 {
        if let Some(link) = connect(&pair).await {
            let req = ClaudeRequest::Channel {
                registered,
                reason: reason.clone(),
            };
            if link.claude(req, Duration::from_secs(5)).await.is_ok() {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn read_registration(debug: &Path, server: &str) -> Option<Result<(), String>> {
    let text = std::fs::read_to_string(debug).ok()?;
    setup::registration(&text, server)
}

/// Ask the daemon every second whether to ring; type the doorbell when it
/// says so and the human is idle with an empty prompt line.
async fn doorbell_loop(pair: Pair, injector: Injector) {
    let mut link: Option<ControlLink> = None;
    let ready: crate::pty::ReadyCheck = Arc::new(|screen: &vt100::Screen| {
        setup::prompt_is_empty(&crate::pty::screen::cursor_line(screen))
    });
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if link.as_ref().is_none_or(|l| l.is_closed()) {
            link = connect(&pair).await;
        }
        let Some(l) = &link else { continue };
        let (ids, from) = match l
            .claude(ClaudeRequest::Doorbell, Duration::from_secs(5))
            .await
        {
            Ok(ClaudeAnswer::Doorbell { ids, from }) => (ids, from),
            _ => continue,
        };
        if ids.is_empty() {
            continue;
        }
        let opts = InjectOptions {
            ready: Some(Arc::clone(&ready)),
            ..InjectOptions::default()
        };
        match injector
            .inject_async(policy::doorbell_text(ids.len(), &from), opts)
            .await
        {
            Ok(()) => {
                tracing::info!(n = ids.len(), "rang the Claude doorbell");
                let _ = l
                    .claude(ClaudeRequest::Rang { ids }, Duration::from_secs(5))
                    .await;
            }
            Err(e) => tracing::debug!("doorbell not rung: {e}"),
        }
    }
}
