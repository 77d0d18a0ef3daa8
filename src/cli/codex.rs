//! `abg codex`: run the real Codex TUI as this pair's Codex peer.

use std::process::ExitCode;

use super::claude::shell_words;
use super::{Context, output};
use crate::codex::launch;
use crate::daemon::ensure;

/// Run Codex as this pair's Codex peer (starts the pair's daemon).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep Codex's normal approval prompts (no --yolo).
    #[arg(long)]
    pub safe: bool,
    /// Start a new Codex thread instead of resuming the pair's current one.
    #[arg(long)]
    pub new: bool,
    /// Arguments passed to `codex` (after `--`).
    #[arg(last = true, value_name = "CODEX_ARGS")]
    pub args: Vec<String>,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.pair()?;
    let safe = args.safe || ctx.config.settings.safe;
    let url = format!("ws://127.0.0.1:{}", pair.ports.app);
    let plan = launch::plan(&ctx.config.settings.codex_binary, &url, &args.args, safe)?;
    let _ = std::fs::remove_file(pair.killed_file());
    let ensured = ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    output::line(format!(
        "pair {} ({}) · daemon ready on 127.0.0.1:{} (pid {})",
        pair.name, pair.id, pair.ports.control, ensured.status.pid
    ))?;
    output::line(format!(
        "launch: {}={{pair secret}} {} {}",
        launch::TOKEN_ENV,
        plan.program,
        shell_words(&plan.args)
    ))?;
    Ok(ExitCode::SUCCESS)
}
