//! `abg appserver-guard` (hidden): started by the daemon to run the pair's
//! `codex app-server` as its child and end it once nobody will come back
//! for it (see `crate::codex::guard`).

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use crate::codex::guard::{self, Spec};

/// Run and guard the pair's Codex app-server (started by the daemon).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app-server's port (clients are counted on it).
    #[arg(long)]
    pub port: u16,
    /// The pair's state dir.
    #[arg(long)]
    pub pair_dir: PathBuf,
    /// Seconds with no daemon and no client before the app-server is stopped.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub grace_secs: u64,
    /// The app-server's command line.
    #[arg(last = true, required = true, num_args = 1..)]
    pub command: Vec<OsString>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut command = args.command.into_iter();
    let program = command.next().unwrap_or_default();
    let spec = Spec {
        port: args.port,
        pair_dir: args.pair_dir,
        grace: Duration::from_secs(args.grace_secs),
        program,
        args: command.collect(),
    };
    Ok(ExitCode::from(guard::run(&spec)?))
}
