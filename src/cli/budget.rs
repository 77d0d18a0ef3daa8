//! `abg budget`: both agents' 5-hour and weekly quota windows. Until the
//! daemon has recorded a reading it says so plainly instead of showing 0 %.

use std::process::ExitCode;

use serde_json::json;

use super::{Context, output};

/// Show both agents' 5-hour and weekly quota windows.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.existing_pair()?;
    if args.json {
        output::json(&json!({
            "schema": 1,
            "pair_id": pair.id,
            "claude": null,
            "codex": null,
            "note": "no data yet: no quota reading has been recorded for this pair",
        }))?;
    } else {
        output::line(format!(
            "{} ({}): no data yet — no quota reading has been recorded for this pair",
            pair.name, pair.id
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}
