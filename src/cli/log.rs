//! `abg log`: the pair's transcript in the terminal, optionally following
//! new messages as they are stored. On a terminal the agents' control
//! characters are shown (`^[`), never executed, unless `--raw`; `--json`
//! escapes them.

use std::process::ExitCode;
use std::time::Duration;

use super::{Context, output};
use crate::control::client::Client;
use crate::control::protocol::MessageView;

/// Show the pair's conversation transcript.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep printing new messages as they arrive.
    #[arg(short, long)]
    pub follow: bool,
    /// One JSON object per message (JSONL).
    #[arg(long)]
    pub json: bool,
    /// How many of the latest messages to show first.
    #[arg(short = 'n', long, default_value_t = 50, value_name = "N")]
    pub lines: usize,
    /// Write message text byte for byte even to a terminal. By default a
    /// terminal shows control characters from agents as `^[`, `^G`, `<U+009B>`
    /// instead of running them; a pipe or file always gets the raw bytes.
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
}

fn render(m: &MessageView) -> String {
    let secs = m.created_ms.div_euclid(1000).rem_euclid(86_400);
    let when = format!(
        "{:02}:{:02}:{:02}Z",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    );
    let state = m.state.as_deref().unwrap_or("-");
    format!(
        "#{} {when} {} → {} [{}]\n{}\n",
        m.seq,
        m.from,
        m.to,
        state,
        m.body.trim_end()
    )
}

fn print(m: &MessageView, args: &Args) -> anyhow::Result<()> {
    if args.json {
        output::line(output::json_text(m, false)?)
    } else {
        output::agent_line(render(m), args.raw)
    }
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.existing_pair()?;
    let client = Client::for_pair(&pair)?;
    // Page through the whole transcript, keep the last N.
    let mut after = 0;
    let mut last = std::collections::VecDeque::new();
    loop {
        let page = client.messages_after(after, 1000).await?;
        let n = page.messages.len();
        for m in page.messages {
            after = m.seq;
            last.push_back(m);
            if last.len() > args.lines {
                last.pop_front();
            }
        }
        if n < 1000 {
            break;
        }
    }
    for m in &last {
        print(m, &args)?;
    }
    if !args.follow {
        return Ok(ExitCode::SUCCESS);
    }
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let page = match client.messages_after(after, 1000).await {
            Ok(p) => p,
            Err(e) => {
                eprintln!("abg: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        for m in page.messages {
            after = m.seq;
            print(&m, &args)?;
        }
    }
}
