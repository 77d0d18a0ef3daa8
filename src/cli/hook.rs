//! `abg hook <event>` (hidden): a Claude Code hook installed by
//! `abg claude` (or by the plugin). Fails open: whatever goes wrong, it exits
//! 0 with no output. A hook started `--via` a way `abg claude` did not
//! choose (or outside `abg claude`) does nothing.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use crate::claude::channel::{self, Via};
use crate::claude::hook;
use crate::claude::mcp::{Options, PROJECT_ENV};

/// Report a Claude Code hook event to the pair's daemon (run by Claude).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// session-start, user-prompt-submit, post-tool-use or stop.
    pub event: String,
    /// Project directory whose pair to report to (default: ABG_PROJECT_ROOT).
    #[arg(long, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Which way installed this hook (`abg claude`'s settings, or the plugin).
    #[arg(long, value_enum, value_name = "WAY")]
    pub via: Option<Via>,
}

pub async fn run(pair: Option<&str>, args: Args) -> anyhow::Result<ExitCode> {
    let Some(event) = hook::canonical_event(&args.event) else {
        return Ok(ExitCode::SUCCESS);
    };
    let mut input = String::new();
    let _ = std::io::stdin()
        .take(4 * 1024 * 1024)
        .read_to_string(&mut input);
    let launched_by_abg = std::env::var_os(PROJECT_ENV).is_some_and(|v| !v.is_empty());
    if !channel::hook_runs(args.via, Via::chosen(), launched_by_abg) {
        return Ok(ExitCode::SUCCESS);
    }
    let opts = Options {
        project: args.project,
        pair: pair.map(str::to_string),
        via: args.via,
    };
    if let Some(out) = hook::ask(event, &input, &opts).await {
        let mut stdout = std::io::stdout();
        let _ = writeln!(stdout, "{out}");
        let _ = stdout.flush();
    }
    Ok(ExitCode::SUCCESS)
}
