//! `abg completions SHELL`: shell completion scripts generated from the
//! clap definition (the same files are checked into `completions/`).

use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

/// Print a shell completion script (bash, zsh or fish).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate completions for.
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell`.
pub fn script(shell: CompletionShell) -> Vec<u8> {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "abg", &mut out);
    out
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let text = String::from_utf8(script(args.shell))?;
    super::output::line(text.trim_end())?;
    Ok(ExitCode::SUCCESS)
}
