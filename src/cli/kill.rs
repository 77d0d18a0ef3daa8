//! `abg kill`: stop a pair's daemon and everything it runs, including a
//! Codex app-server or an OpenCode server left running without its daemon. A `killed` sentinel
//! keeps the daemon from being respawned until the next `abg claude` or
//! `abg codex`.

use std::process::ExitCode;

use super::{Context, output};
use crate::codex::orphan;
use crate::daemon::ensure::{self, Stopped};
use crate::pair::Pair;

/// Stop this pair's daemon and its children; no auto-respawn until the next `abg claude|codex`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop the daemons (and orphaned Codex app-servers and OpenCode servers) of every pair of every project.
    #[arg(long)]
    pub all: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pairs: Vec<Pair> = if args.all {
        super::pair::checked_pairs(&ctx)?
    } else {
        vec![ctx.existing_pair()?]
    };
    for pair in pairs {
        crate::paths::write_private_file(&pair.killed_file(), b"killed by `abg kill`\n")?;
        let how = ensure::stop(&pair).await?;
        let what = match how {
            Stopped::NotRunning => "was not running",
            Stopped::Graceful => "stopped",
            Stopped::Terminated => "stopped (SIGTERM)",
            Stopped::Killed => "killed (SIGKILL)",
        };
        // The daemon stops its app-server; one it left behind (it was
        // killed, or had already died) is stopped here.
        let app = {
            let pair = pair.clone();
            tokio::task::spawn_blocking(move || orphan::stop_recorded(&pair)).await?
        };
        let app = match app {
            orphan::Stopped::NotRunning => String::new(),
            how => format!("; orphaned codex app-server {}", how.as_str()),
        };
        // Likewise the OpenCode server, the optional peer's.
        let opencode = if crate::opencode::server::stop_left(&pair).await {
            "; orphaned opencode server stopped"
        } else {
            ""
        };
        output::line(format!(
            "{} ({}): daemon {what}{app}{opencode}",
            pair.name, pair.id
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
