//! `abg doctor`: check everything a pair needs and say, per check, ok /
//! warn / fail and the fix. Read-only: it never starts the daemon or
//! creates the pair. Exit code 0 when nothing failed, 1 otherwise.

use std::process::ExitCode;

use anyhow::Context as _;

use super::{EXIT_FAILURE, output};
use crate::doctor::{self, Inputs, System};

/// Check the agent CLIs, Claude channels, the pair's ports, files, daemon and store.
///
/// Each check prints ok, WARN or FAIL with the fix. Nothing is started or
/// changed. Exit code 0 when no check failed, 1 otherwise.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON: {schema_version: 1, abg_version, project, pair, ok,
    /// counts: {ok, warn, fail}, checks: [{id, status: ok|warn|fail, summary, fix}]}.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(pair: Option<&str>, args: Args) -> anyhow::Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let inputs = Inputs {
        cwd,
        pair: pair.map(str::to_string),
        managed_settings: doctor::claude::managed_settings_path(),
    };
    let report = doctor::diagnose(&System::default(), &inputs).await?;
    if args.json {
        output::json(&report)?;
    } else {
        // Summaries quote tool output (versions, errors, settings files).
        output::agent_line(report.render(), false)?;
    }
    Ok(if report.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_FAILURE)
    })
}
