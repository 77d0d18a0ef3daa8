//! `abg approve`: allow an agent's pending approval request (see
//! `abg approvals`). The daemon records the answer first (the first answer
//! wins), then hands it to the agent; if the agent cannot take it, nothing
//! is approved and the request is left abandoned.

use std::process::ExitCode;

use super::{Context, output};
use crate::control::client::Client;
use crate::control::protocol::approvals::{AnswerRequest, Decision};
use crate::daemon::ensure;

/// Allow an agent's pending approval request.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The request's id, as `abg approvals` lists it (a_…).
    #[arg(value_name = "ID")]
    pub id: String,
    /// Allow the like for the rest of the agent's session (when it offers that).
    #[arg(long)]
    pub for_session: bool,
    /// Print the answered request as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let decision = if args.for_session {
        Decision::ApproveForSession
    } else {
        Decision::Approve
    };
    answer(
        &ctx,
        &args.id,
        AnswerRequest {
            decision,
            reason: None,
        },
        args.json,
    )
    .await
}

/// Send `answer` for request `id` and print what it did.
pub(super) async fn answer(
    ctx: &Context,
    id: &str,
    answer: AnswerRequest,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let pair = ctx.pair()?;
    ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    let client = Client::for_pair(&pair)?;
    let result = client.answer_approval(id, &answer).await?;
    if json {
        output::json(&result)?;
    } else {
        let a = &result.approval;
        output::agent_line(
            format!(
                "{} {} {}: {}",
                a.id,
                a.peer,
                a.kind.as_str(),
                a.answered_text()
            ),
            false,
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
