//! `abg mcp` (hidden): the stdio MCP channel server Claude Code starts.
//! stdout carries the MCP protocol only; logs go to stderr.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::claude::channel::Via;
use crate::claude::mcp::{self, Options};

/// Serve Claude Code as its abg channel (started by Claude, not by hand).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project directory whose pair to serve (the plugin passes ${CLAUDE_PROJECT_DIR});
    /// default: the ABG_PROJECT_ROOT that `abg claude` sets, else stay dormant.
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Which way started this copy (`abg claude`'s config, or the plugin); a
    /// copy whose way `abg claude` did not choose stays idle.
    #[arg(long, value_enum, value_name = "WAY")]
    pub via: Option<Via>,
}

pub async fn run(pair: Option<&str>, args: Args) -> anyhow::Result<ExitCode> {
    let filter = std::env::var("ABG_LOG").unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(
            crate::config::log_filter(&filter)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let opts = Options {
        project: args.project,
        pair: pair.map(str::to_string),
        via: args.via,
    };
    mcp::run(opts).await?;
    Ok(ExitCode::SUCCESS)
}
