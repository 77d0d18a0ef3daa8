//! `abg resume-relay`: lift a loop-governor pause by hand and release the
//! messages it held.

use std::process::ExitCode;

use super::{Context, output};
use crate::control::client::Client;

/// Resume the automatic relay between the agents after the loop governor paused it.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub async fn run(ctx: Context, _args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.existing_pair()?;
    let client = Client::for_pair(&pair)?;
    let answer = client.resume_relay().await?;
    let released = answer["released"].as_u64().unwrap_or(0);
    output::line(format!(
        "relay resumed for {} ({}); {released} held message(s) released",
        pair.name, pair.id
    ))?;
    Ok(ExitCode::SUCCESS)
}
