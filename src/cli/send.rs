//! `abg send`: the human's voice in the pair — store a message for Claude,
//! Codex or both through the daemon, with Codex's delivery policy.

use std::io::Read;
use std::process::ExitCode;

use super::{Context, output};
use crate::control::client::Client;
use crate::control::protocol::{OnBusy, SendRequest};
use crate::daemon::ensure;
use crate::store::types::PeerId;

/// Send a message to Claude, Codex, OpenCode, or Claude and Codex (both) as the human.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Who receives it.
    #[arg(long, value_enum)]
    pub to: To,
    /// What Codex does with it while a turn runs (queue, steer, interrupt).
    #[arg(long, value_enum)]
    pub on_busy: Option<Busy>,
    /// The message text; `-` reads it from stdin.
    #[arg(value_name = "TEXT")]
    pub text: String,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum To {
    Claude,
    Codex,
    Opencode,
    Both,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Busy {
    Queue,
    Steer,
    Interrupt,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let body = if args.text == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        s
    } else {
        args.text.clone()
    };
    if body.trim().is_empty() {
        anyhow::bail!("the message is empty; pass TEXT, or `-` with text on stdin");
    }
    if args.on_busy.is_some() && matches!(args.to, To::Claude) {
        anyhow::bail!("--on-busy applies to messages for codex; drop it or use --to codex|both");
    }
    let pair = ctx.pair()?;
    ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    let client = Client::for_pair(&pair)?;
    let targets: &[PeerId] = match args.to {
        To::Claude => &[crate::claude::PEER],
        To::Codex => &[crate::codex::PEER],
        To::Opencode => &[crate::opencode::PEER],
        To::Both => &[crate::claude::PEER, crate::codex::PEER],
    };
    let on_busy = args.on_busy.map(|b| match b {
        Busy::Queue => OnBusy::Queue,
        Busy::Steer => OnBusy::Steer,
        Busy::Interrupt => OnBusy::Interrupt,
    });
    let mut results = Vec::new();
    for to in targets {
        let req = SendRequest {
            from: PeerId::HUMAN,
            to: *to,
            body: body.clone(),
            on_busy: if *to != crate::claude::PEER {
                on_busy
            } else {
                None
            },
            in_reply_to: None,
            idempotency_key: None,
        };
        let r = client.send(&req).await?;
        if !args.json {
            output::line(format!(
                "{} → {}: {} ({})",
                r.message_id,
                to.as_str(),
                r.state,
                if r.duplicate { "duplicate" } else { "stored" }
            ))?;
        }
        results.push(r);
    }
    if args.json {
        output::json(&results)?;
    }
    Ok(ExitCode::SUCCESS)
}
