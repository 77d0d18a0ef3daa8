//! `abg claude`: run the real Claude Code TUI as this pair's Claude peer.

use std::process::ExitCode;

use super::{Context, output};
use crate::claude::run::{self, Files, Request};
use crate::daemon::ensure;

/// Run Claude Code as this pair's Claude peer (starts the pair's daemon).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep Claude's normal permission prompts (no --dangerously-skip-permissions).
    #[arg(long)]
    pub safe: bool,
    /// Arguments passed to `claude` unchanged (after `--`).
    #[arg(last = true, value_name = "CLAUDE_ARGS")]
    pub args: Vec<String>,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.pair()?;
    let req = Request {
        pair: &pair,
        config: &ctx.config,
        user_args: &args.args,
        safe: args.safe || ctx.config.settings.safe,
    };
    // Refuse owned flags before starting anything.
    run::plan(&req, &Files::for_pair(&pair))?;
    let _ = std::fs::remove_file(pair.killed_file());
    let ensured = ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    output::line(format!(
        "pair {} ({}) · daemon ready on 127.0.0.1:{} (pid {})",
        pair.name, pair.id, pair.ports.control, ensured.status.pid
    ))?;
    let code = run::run(req).await?;
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}

/// Quote arguments for display the way a shell would read them back.
pub fn shell_words(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+".contains(c))
            {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
