//! `abg daemon` (hidden): the daemon process, spawned detached by the
//! first `abg claude|codex|status` of a pair.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;

/// Run the pair's daemon in the foreground (started by abg itself).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Project root of the pair.
    #[arg(long)]
    pub root: PathBuf,
}

pub fn run(pair: Option<&str>, args: Args) -> anyhow::Result<ExitCode> {
    let ctx = Context::load_at(pair, &args.root)?;
    let pair = ctx
        .existing_pair()
        .context("the daemon was started for a pair that is not registered")?;
    crate::serve::run(pair, ctx.config, crate::peers::setup())?;
    Ok(ExitCode::SUCCESS)
}
