//! `abg budget [--json] [--watch]` and `abg budget pause|resume SIDE`:
//! both agents' 5-hour and weekly quota windows as the daemon sees them
//! (used %, reset time and countdown, burn rate, projected time to the
//! limit, staleness, pauses), and the quota relay by hand.
//!
//! `--json` prints the daemon's `abg.budget/1` report (schema documented in
//! `budget::report`); with `--watch` it prints one compact report per
//! refresh (JSON lines). Text `--watch` redraws in place until Ctrl-C.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use crossterm::{cursor, execute, terminal};

use super::{Context, output};
use crate::budget::readings::Side;
use crate::budget::report::Report;
use crate::budget::text;
use crate::clock::now_ms;
use crate::control::client::Client;
use crate::daemon::ensure;

/// Show both agents' 5-hour and weekly quota windows, or pause/resume one.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    /// Print the JSON report (schema abg.budget/1) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Refresh every few seconds until interrupted.
    #[arg(long)]
    pub watch: bool,
    /// Seconds between refreshes with --watch.
    #[arg(long, value_name = "SECS", default_value_t = 2, requires = "watch")]
    pub interval: u64,
    #[command(subcommand)]
    pub action: Option<Action>,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// Pause relay to SIDE by hand: its messages are held until resumed.
    Pause {
        #[arg(value_enum)]
        side: SideArg,
    },
    /// Resume SIDE: release held messages (and send the resume prompt if a
    /// checkpoint was asked for).
    Resume {
        #[arg(value_enum)]
        side: SideArg,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SideArg {
    Claude,
    Codex,
}

impl SideArg {
    fn side(self) -> Side {
        match self {
            SideArg::Claude => Side::Claude,
            SideArg::Codex => Side::Codex,
        }
    }
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.existing_pair()?;
    if pair.killed_file().exists() {
        anyhow::bail!(
            "the pair's daemon was stopped by `abg kill`; `abg claude` or `abg codex` starts it again"
        );
    }
    let ensured = ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    let client = Client::for_pair(&pair)?;
    let title = format!("abg budget — {} ({})", ensured.status.pair_name, pair.id);
    match args.action {
        Some(Action::Pause { side }) => return manual(&client, side.side(), true).await,
        Some(Action::Resume { side }) => return manual(&client, side.side(), false).await,
        None => {}
    }
    if !args.watch {
        let report = client.budget().await.context("cannot read the budget")?;
        if args.json {
            output::json(&report)?;
        } else {
            output::agent_line(text::render(&report, &title, now_ms()), false)?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    watch(
        &client,
        &title,
        args.json,
        Duration::from_secs(args.interval.max(1)),
    )
    .await
}

async fn manual(client: &Client, side: Side, pause: bool) -> anyhow::Result<ExitCode> {
    let r = client.budget_manual(side, pause).await?;
    output::line(r.message)?;
    Ok(ExitCode::SUCCESS)
}

async fn watch(
    client: &Client,
    title: &str,
    json: bool,
    every: Duration,
) -> anyhow::Result<ExitCode> {
    let mut drawn = 0u16;
    let mut report: Option<Report> = None;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_fetch: Option<tokio::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
        }
        let due = last_fetch.is_none_or(|t| t.elapsed() >= every);
        if due {
            last_fetch = Some(tokio::time::Instant::now());
            match client.budget().await {
                Ok(r) => {
                    if json {
                        output::line(output::json_text(&r, false)?)?;
                    }
                    report = Some(r);
                }
                Err(e) if json => return Err(e.into()),
                Err(e) => tracing::debug!("budget refresh failed: {e}"),
            }
        }
        if json {
            continue;
        }
        let text = match &report {
            Some(r) => text::render(r, title, now_ms()),
            None => format!("{title}\n(daemon not answering; retrying)"),
        };
        drawn = redraw(drawn, &output::shown(&text, false))?;
    }
}

/// Replace the previous `drawn` lines with `text`; returns its line count.
fn redraw(drawn: u16, text: &str) -> anyhow::Result<u16> {
    let mut out = std::io::stdout().lock();
    if drawn > 0 {
        execute!(out, cursor::MoveToPreviousLine(drawn))?;
    }
    execute!(out, terminal::Clear(terminal::ClearType::FromCursorDown))?;
    let width = usize::from(terminal::size().map(|(w, _)| w).unwrap_or(80).max(1));
    let lines: Vec<&str> = text.lines().collect();
    let rows: usize = lines
        .iter()
        .map(|l| l.chars().count().max(1).div_ceil(width))
        .sum();
    for line in &lines {
        match writeln!(out, "{line}") {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                return Err(output::BrokenPipe.into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    out.flush()?;
    Ok(u16::try_from(rows).unwrap_or(u16::MAX))
}
