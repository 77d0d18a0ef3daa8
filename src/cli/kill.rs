//! `abg kill`: stop a pair's daemon (and everything it runs). A `killed`
//! sentinel keeps it from being respawned until the next `abg claude` or
//! `abg codex`.

use std::process::ExitCode;

use super::{Context, output};
use crate::daemon::ensure::{self, Stopped};
use crate::pair::Pair;

/// Stop this pair's daemon and its children; no auto-respawn until the next `abg claude|codex`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Stop the daemons of every pair of every project.
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
        output::line(format!("{} ({}): daemon {what}", pair.name, pair.id))?;
    }
    Ok(ExitCode::SUCCESS)
}
