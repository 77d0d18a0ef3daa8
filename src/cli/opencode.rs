//! `abg opencode`: run the real OpenCode TUI as this pair's OpenCode peer.
//!
//! Writes the permission mode it wants (which is what makes the daemon
//! start the pair's `opencode serve`; a pair never run with `abg opencode`
//! has no OpenCode process), ensures the pair's daemon, waits until the
//! server runs in that mode and the pair's session exists, then runs
//! `opencode attach http://127.0.0.1:<port> --dir <project> --session <id>`
//! (the password in `OPENCODE_SERVER_PASSWORD`, never on the command line)
//! under abg's PTY supervisor, with any extra arguments after `--` passed
//! through. While the TUI runs, a control connection with role `opencode`
//! marks OpenCode as attached (and re-ensures the daemon if it dies). When
//! the daemon replaced the server (after a crash, or a new daemon after a
//! killed one), the TUI is launched again against the new server, on the
//! pair's session, in the same terminal. A
//! first extra argument that is a subcommand (`abg opencode -- auth
//! login`) runs `opencode` directly instead, with nothing bridged. The
//! child's exit code is abg's.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use super::Context;
use super::attached::{self, exit_byte, live_tui};
use crate::daemon::ensure;
use crate::opencode::launch::{self, Mode};
use crate::opencode::server;
use crate::pair::Pair;
use crate::pty::LaunchSpec;

/// Run OpenCode as this pair's OpenCode peer (starts the pair's daemon).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep OpenCode's own permission prompts (no allow-all config).
    #[arg(long)]
    pub safe: bool,
    /// Arguments passed to `opencode attach` (after `--`).
    #[arg(last = true, value_name = "OPENCODE_ARGS")]
    pub args: Vec<String>,
}

/// How long the daemon's server and session may take to come up.
const SERVER_WAIT: Duration = Duration::from_secs(90);

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let binary = ctx.config.settings.opencode_binary.clone();
    if !installed(&binary) {
        bail!(
            "OpenCode is not installed (`{binary}` not found); install it (npm install -g opencode-ai@{}) or set opencode.binary",
            server::VERIFIED_VERSION
        );
    }
    if args.args.first().is_some_and(|a| !a.starts_with('-')) {
        // `opencode auth login`, `opencode run …`: not the TUI, nothing to bridge.
        let status = tokio::process::Command::new(&binary)
            .args(&args.args)
            .status()
            .await
            .with_context(|| format!("cannot run {binary}"))?;
        return Ok(ExitCode::from(exit_byte(status.code().unwrap_or(1))));
    }
    let pair = ctx.pair()?;
    let tui_pid = pair.dir.join("opencode-tui.pid");
    if let Some(pid) = live_tui(&tui_pid) {
        bail!(
            "OpenCode already runs for pair {} (abg opencode, pid {pid}); use that terminal, or stop it first",
            pair.name
        );
    }
    let safe = args.safe || ctx.config.settings.safe;
    let mode = if safe { Mode::Safe } else { Mode::Yolo };
    server::write_mode(&pair, mode)?;
    let _ = std::fs::remove_file(pair.killed_file());
    ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    let dir = pair.root.display().to_string();
    let launch = || async {
        let (state, session) = wait_server(&pair, mode, SERVER_WAIT).await?;
        let password = server::read_password(&pair)?;
        let url = format!("http://127.0.0.1:{}", state.port);
        let attach = launch::attach_args(&url, &dir, &session, &args.args);
        tracing::debug!(
            "launch: {}={{password}} {binary} {}",
            launch::PASSWORD_ENV,
            super::output::shell_words(&attach)
        );
        let spec = LaunchSpec::new(&binary)
            .args(attach)
            .env(launch::PASSWORD_ENV, password)
            .env("OPENCODE_DISABLE_AUTOUPDATE", "1");
        let pair = pair.clone();
        let stale =
            attached::until_replaced(state.pid, move || server::read_state(&pair).map(|s| s.pid));
        Ok((spec, stale))
    };
    attached::run_relaunching(
        &pair,
        ctx.ready_timeout(),
        crate::opencode::PEER,
        &tui_pid,
        launch,
    )
    .await
}

/// Whether `binary` names an executable (a path, or a name on `PATH`).
fn installed(binary: &str) -> bool {
    if binary.contains('/') {
        return PathBuf::from(binary).is_file();
    }
    crate::claude::channel::on_path(binary, std::env::var_os("PATH").as_deref()).is_some()
}

/// Wait until the daemon's server runs in `mode`, answers healthy, and the
/// pair's session exists on it; returns the server and the session id.
async fn wait_server(
    pair: &Pair,
    mode: Mode,
    within: Duration,
) -> anyhow::Result<(server::ServerState, String)> {
    let end = Instant::now() + within;
    loop {
        if let Some(state) = server::read_state(pair).filter(|s| s.mode == mode)
            && let Ok(api) = server::api(pair, &state)
            && api.health().await.is_ok_and(|v| v.is_some())
            && let Ok(sid) = std::fs::read_to_string(crate::opencode::link::session_file(pair))
            && api.session_exists(sid.trim()).await.unwrap_or(false)
        {
            return Ok((state, sid.trim().to_owned()));
        }
        if Instant::now() >= end {
            bail!(
                "the pair's OpenCode server did not become ready within {within:?}; see {} and `abg logs`",
                server::log_file(pair).display()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
