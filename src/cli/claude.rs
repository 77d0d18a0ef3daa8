//! `abg claude`: run the real Claude Code TUI as this pair's Claude peer.

use std::process::ExitCode;

use anyhow::Context as _;

use super::{Context, output};
use crate::claude::channel::{self, Choice, Decision, Facts, Via};
use crate::claude::launch;
use crate::claude::run::{self, Files, Request};
use crate::daemon::ensure;
use crate::pair::Pair;

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
    let decision = choose(&ctx, &pair, &args.args)?;
    let req = Request {
        pair: &pair,
        config: &ctx.config,
        user_args: &args.args,
        safe: args.safe || ctx.config.settings.safe,
        via: decision.via,
    };
    // Refuse owned flags before starting anything.
    run::plan(&req, &Files::for_pair(&pair))?;
    let _ = std::fs::remove_file(pair.killed_file());
    let ensured = ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    output::line(format!(
        "pair {} ({}) · daemon ready on 127.0.0.1:{} (pid {})",
        pair.name, pair.id, pair.ports.control, ensured.status.pid
    ))?;
    output::line(format!(
        "claude channel: {} ({})",
        decision.via.channel_entry(),
        decision.why
    ))?;
    let code = run::run(req).await?;
    Ok(ExitCode::from(
        u8::try_from(code.clamp(0, 255)).unwrap_or(1),
    ))
}

/// The way to load abg into Claude (`claude.channel`), from Claude's own
/// plugin state files; refuses `plugin` when the plugin cannot work.
fn choose(ctx: &Context, pair: &Pair, user_args: &[String]) -> anyhow::Result<Decision> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let plugin = channel::claude_config_dir()
        .map(|dir| channel::plugin_state(&dir, &[cwd.as_path(), pair.root.as_path()]))
        .unwrap_or_default();
    let abg = channel::on_path("abg", std::env::var_os("PATH").as_deref());
    let facts = Facts {
        plugin,
        abg_on_path: abg.is_some(),
        strict_mcp: launch::has_strict_mcp(user_args),
    };
    let decision = channel::decide(Choice::parse(&ctx.config.settings.claude_channel), &facts)?;
    if decision.via == Via::Plugin
        && let (Some(found), Ok(me)) = (abg, std::env::current_exe())
        && std::fs::canonicalize(&found).ok() != std::fs::canonicalize(&me).ok()
    {
        output::line(format!(
            "note: the plugin runs {} (first `abg` on PATH), not this abg ({})",
            found.display(),
            me.display()
        ))?;
    }
    Ok(decision)
}
