//! `abg deny`: refuse an agent's pending approval request (see
//! `abg approvals`), optionally saying why.

use std::process::ExitCode;

use super::Context;
use crate::control::protocol::approvals::{AnswerRequest, Decision};

/// Refuse an agent's pending approval request.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's id, as `abg approvals` lists it (a_…).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Why, for agents that pass a reason on.
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Print the answered request as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    super::approve::answer(
        &ctx,
        &args.id,
        AnswerRequest {
            decision: Decision::Deny,
            reason: args.reason,
        },
        args.json,
    )
    .await
}
