//! The command line: the clap definition (doc comments are the help text),
//! dispatch to one file per subcommand, and the fixed exit codes.
//!
//! Exit codes: 0 success; 1 a user or config error (the message says what
//! to fix); 2 a usage error; `abg claude` and `abg codex` pass the agent's
//! own exit code through. A closed stdout (broken pipe) is not an error.

mod approvals;
mod approve;
mod appserver_guard;
mod attached;
mod budget;
mod claude;
mod codex;
mod completions;
mod context;
mod daemon;
mod deny;
mod doctor;
mod export;
mod hook;
mod init;
mod kill;
mod log;
mod logs;
mod mcp;
mod opencode;
mod output;
mod pair;
mod resume;
mod resume_relay;
pub mod send;
mod status;
mod statusline;
mod ui;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use context::Context;
pub use output::BrokenPipe;

/// Success.
pub const EXIT_OK: u8 = 0;
/// A user or configuration error.
pub const EXIT_FAILURE: u8 = 1;
/// A usage error (bad arguments).
pub const EXIT_USAGE: u8 = 2;

/// Run Claude Code and OpenAI Codex as live peers in one project.
///
/// Start `abg claude` in one terminal and `abg codex` in another: the first
/// starts the pair's daemon, which relays messages between the two agents.
#[derive(Debug, Parser)]
#[command(name = "abg", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    /// Target the pair NAME of this project (default: main).
    #[arg(long, global = true, value_name = "NAME", env = "ABG_PAIR", value_parser = parse_pair_name)]
    pub pair: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Claude(claude::Args),
    Codex(codex::Args),
    Opencode(opencode::Args),
    Init(init::Args),
    Doctor(doctor::Args),
    Resume(resume::Args),
    Pair(pair::Args),
    Status(status::Args),
    Logs(logs::Args),
    Send(send::Args),
    Approvals(approvals::Args),
    Approve(approve::Args),
    Deny(deny::Args),
    ResumeRelay(resume_relay::Args),
    Log(log::Args),
    Ui(ui::Args),
    Export(export::Args),
    Kill(kill::Args),
    Budget(budget::Args),
    Completions(completions::Args),
    #[command(hide = true)]
    Daemon(daemon::Args),
    #[command(hide = true)]
    Mcp(mcp::Args),
    #[command(hide = true)]
    Hook(hook::Args),
    #[command(hide = true)]
    Statusline(statusline::Args),
    #[command(hide = true)]
    AppserverGuard(appserver_guard::Args),
}

fn parse_pair_name(s: &str) -> Result<String, String> {
    crate::pair::PairName::new(s)
        .map(|n| n.to_string())
        .map_err(|e| e.to_string())
}

/// Entry point used by `main`.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<BrokenPipe>().is_some() => ExitCode::from(EXIT_OK),
        Err(e) => {
            eprintln!("abg: {e:#}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// Dispatch a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let pair = cli.pair.as_deref();
    match cli.command {
        Command::Completions(args) => completions::run(args),
        Command::Daemon(args) => daemon::run(pair, args),
        Command::AppserverGuard(args) => appserver_guard::run(args),
        Command::Mcp(args) => block_on(mcp::run(pair, args)),
        // A hook never fails Claude's turn: errors exit 0 (fail open).
        Command::Hook(args) => block_on(hook::run(pair, args)).or(Ok(ExitCode::SUCCESS)),
        // Claude's statusLine: never fails Claude's UI either.
        Command::Statusline(args) => {
            block_on(statusline::run(pair, args)).or(Ok(ExitCode::SUCCESS))
        }
        Command::Claude(args) => block_on(claude::run(Context::load(pair)?, args)),
        Command::Codex(args) => block_on(codex::run(Context::load(pair)?, args)),
        Command::Opencode(args) => block_on(opencode::run(Context::load(pair)?, args)),
        Command::Init(args) => block_on(init::run(Context::load(pair)?, args)),
        Command::Doctor(args) => block_on(doctor::run(pair, args)),
        Command::Resume(args) => block_on(resume::run(Context::load(pair)?, pair, args)),
        Command::Pair(args) => pair::run(Context::load(pair)?, args),
        Command::Status(args) => block_on(status::run(Context::load(pair)?, args)),
        Command::Logs(args) => block_on(logs::run(Context::load(pair)?, args)),
        Command::Send(args) => block_on(send::run(Context::load(pair)?, args)),
        Command::Approvals(args) => block_on(approvals::run(Context::load(pair)?, args)),
        Command::Approve(args) => block_on(approve::run(Context::load(pair)?, args)),
        Command::Deny(args) => block_on(deny::run(Context::load(pair)?, args)),
        Command::ResumeRelay(args) => block_on(resume_relay::run(Context::load(pair)?, args)),
        Command::Log(args) => block_on(log::run(Context::load(pair)?, args)),
        Command::Ui(args) => block_on(ui::run(Context::load(pair)?, args)),
        Command::Export(args) => block_on(export::run(Context::load(pair)?, args)),
        Command::Kill(args) => block_on(kill::run(Context::load(pair)?, args)),
        Command::Budget(args) => block_on(budget::run(Context::load(pair)?, args)),
    }
}

fn block_on<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    fut: F,
) -> anyhow::Result<ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(fut)
}
