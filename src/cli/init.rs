//! `abg init`: write the collaboration contract into `AGENTS.md` and
//! `CLAUDE.md` (between abg's markers), create `.abg/config.toml` with
//! commented defaults, and with `--plugin` register and install abg's
//! Claude Code plugin, printing exactly what ran.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::{Context, output};
use crate::init::markers::Change;
use crate::init::{self, Kind, plugin};

/// Tell both agents they are paired: write the contract into AGENTS.md and CLAUDE.md.
///
/// The contract goes between `<!-- abg:start -->` and `<!-- abg:end -->`;
/// re-running updates it in place and never touches text outside the
/// markers. A changed file is backed up once to `<file>.abg-backup`.
/// Also creates `.abg/config.toml` (every setting commented out) when absent.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the changes as a unified diff and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Also register abg's Claude Code plugin marketplace and install the plugin
    /// (`claude plugin marketplace add <dir>`, `claude plugin install abg@abg`).
    #[arg(long)]
    pub plugin: bool,
    /// The plugin marketplace directory for --plugin (default: the one shipped with abg).
    #[arg(long, value_name = "DIR", env = plugin::DIR_ENV)]
    pub plugin_dir: Option<PathBuf>,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let defaults = crate::config::commented_defaults();
    let planned = init::plan(&ctx.root, &defaults)?;
    if args.dry_run {
        let mut any = false;
        for item in planned.iter().filter(|p| p.writes()) {
            any = true;
            output::line(item.preview().trim_end())?;
        }
        if !any {
            output::line("abg init: everything is up to date")?;
        }
    } else {
        let done = init::apply(&planned)?;
        for item in planned.iter().filter(|p| !p.writes()) {
            output::line(format!("{}: up to date", item.label))?;
        }
        for item in &done {
            let what = match item.kind {
                Kind::Contract(Change::Created) => "created with abg's section",
                Kind::Contract(Change::Appended) => "abg's section added",
                Kind::Contract(Change::Updated) => "abg's section updated",
                Kind::Contract(Change::Unchanged) => "up to date",
                Kind::Config => "created with commented defaults",
            };
            let backup = match &item.backup {
                Some(p) => format!(" (previous version saved as {})", p.display()),
                None => String::new(),
            };
            output::line(format!("{}: {what}{backup}", item.label))?;
        }
        let agents_written = done.iter().any(|i| {
            i.label.starts_with("AGENTS.md")
                && matches!(i.kind, Kind::Contract(c) if c != Change::Unchanged)
        });
        if agents_written {
            output::line(crate::init::contract::SHARED_NOTE)?;
        }
    }
    if args.plugin {
        return install_plugin(&ctx, args.plugin_dir, args.dry_run);
    }
    if args.dry_run {
        output::line("dry run: nothing was written")?;
    }
    Ok(ExitCode::SUCCESS)
}

fn plugin_dir(given: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    let tried = match given {
        Some(dir) => vec![dir],
        None => plugin::candidates(std::env::current_exe().ok().as_deref()),
    };
    match tried.iter().find(|d| plugin::is_marketplace(d)) {
        Some(dir) => Ok(std::fs::canonicalize(dir).unwrap_or_else(|_| dir.clone())),
        None => bail!(
            "no abg plugin marketplace ({}) found in {}; pass --plugin-dir <abg checkout>/plugin",
            plugin::MANIFEST,
            tried
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn install_plugin(ctx: &Context, dir: Option<PathBuf>, dry_run: bool) -> anyhow::Result<ExitCode> {
    let dir = plugin_dir(dir)?;
    let claude = &ctx.config.settings.claude_binary;
    for argv in plugin::commands(claude, &dir) {
        let shown = super::output::shell_words(&argv);
        if dry_run {
            output::line(format!("would run: {shown}"))?;
            continue;
        }
        output::line(format!("$ {shown}"))?;
        let out = std::process::Command::new(&argv[0])
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| {
                format!("cannot run `{claude}`; install Claude Code or set claude.binary")
            })?;
        for text in [&out.stdout, &out.stderr] {
            let text = String::from_utf8_lossy(text);
            if !text.trim().is_empty() {
                output::line(text.trim_end())?;
            }
        }
        match out.status.code() {
            Some(0) => output::line("→ exit 0")?,
            code => {
                let code = code.map_or_else(|| "a signal".to_string(), |c| format!("exit {c}"));
                output::line(format!("→ {code}"))?;
                bail!(
                    "`{shown}` failed ({code}); fix the error above and run `abg init --plugin` again, or install by hand inside Claude Code: `/plugin marketplace add {}` then `/plugin install {}`",
                    dir.display(),
                    plugin::PLUGIN_REF
                );
            }
        }
    }
    if dry_run {
        output::line("dry run: nothing was written or run")?;
    } else {
        output::line(
            "with claude.channel = \"auto\" (the default) `abg claude` now loads abg through the plugin when `abg` is on PATH; set claude.channel = \"generated\" to keep abg's own config",
        )?;
    }
    Ok(ExitCode::SUCCESS)
}
