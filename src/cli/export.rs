//! `abg export`: the whole transcript as Markdown or JSONL, on stdout or
//! into a file, read from the daemon through the control plane. Markdown on
//! a terminal shows the agents' control characters (`^[`) instead of
//! running them unless `--raw`; JSONL escapes them; a file gets the text
//! as stored. The approvals audit follows the messages.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::{Context, output};
use crate::control::client::Client;
use crate::web::view::Format;

/// Export the pair's conversation transcript.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "md")]
    pub format: Format,
    /// Write to FILE instead of stdout. The file gets the messages exactly
    /// as stored, control characters included (view it with a pager that
    /// shows them, e.g. `less`, not `cat`).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Write message text byte for byte even to a terminal. By default a
    /// terminal shows control characters from agents as `^[`, `^G`, `<U+009B>`
    /// instead of running them; a pipe or file always gets the raw bytes.
    #[arg(long)]
    pub raw: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.existing_pair()?;
    let client = Client::for_pair(&pair)?;
    let mut out = args.format.header(&pair.name.to_string());
    let mut after = 0;
    let mut count = 0usize;
    loop {
        let page = client.messages_after(after, 1000).await?;
        for m in &page.messages {
            after = m.seq;
            out.push_str(&args.format.message(m)?);
        }
        count += page.messages.len();
        if page.messages.len() < 1000 {
            break;
        }
    }
    // The approvals audit: every request and how it was answered.
    let approvals = client.approvals(true, 1000).await?.approvals;
    let approvals = crate::web::api::oldest_first(approvals);
    out.push_str(&args.format.approvals(&approvals)?);
    if args.format == Format::Jsonl {
        // Escaped JSON lines, whatever the destination.
        out = crate::terminal_text::json_visible(out);
    }
    match &args.output {
        Some(path) => {
            let mut f = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            f.write_all(out.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("abg: exported {count} messages to {}", path.display());
        }
        None => {
            let text = out.trim_end_matches('\n');
            if !text.is_empty() {
                output::agent_line(text, args.raw)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
