//! `abg pair`: list, remove and prune pairs. The list shows each pair's
//! Codex app-server too, and flags one running without its daemon
//! (orphaned); prune stops the orphans nobody will come back for.

use std::process::ExitCode;

use serde::Serialize;

use super::{Context, output};
use crate::codex::orphan;
use crate::daemon::{ensure, pidfile};
use crate::pair::{Pair, PairName, Ports, pair_id};

/// Manage pairs: list them (default), remove one, or prune dead ones.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub action: Option<Action>,
    #[command(flatten)]
    pub list: ListArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum Action {
    /// List pairs with slot, ports, daemon state and uptime.
    #[command(visible_alias = "ls")]
    List(ListArgs),
    /// Stop a pair's daemon and remove the pair and its state.
    Rm {
        /// The pair name in this project.
        name: String,
    },
    /// Remove pairs whose project directory is gone (stopping their daemon), and stop
    /// Codex app-servers left without a daemon and without a client.
    Prune {
        /// Show what would be removed without removing it.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// List the pairs of every project, not only this one.
    #[arg(long)]
    pub all: bool,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Row {
    id: String,
    name: String,
    root: String,
    slot: u32,
    ports: Ports,
    daemon: &'static str,
    pid: Option<u32>,
    uptime_ms: Option<i64>,
    version: Option<String>,
    this_project: bool,
    /// The recorded Codex app-server, when it is running.
    app_server: Option<AppRow>,
}

#[derive(Serialize)]
struct AppRow {
    pid: u32,
    /// Its guard (absent for app-servers started before guards).
    guard: Option<u32>,
    /// `running` (its daemon owns it), `orphaned` (no daemon; a client
    /// such as the Codex TUI still uses it), `abandoned` (no daemon and no
    /// client: its guard or `abg pair prune` stops it).
    state: &'static str,
    clients: usize,
}

fn app_row(found: &orphan::Found) -> AppRow {
    AppRow {
        pid: found.state.pid,
        guard: found.state.guard,
        state: if found.abandoned() {
            "abandoned"
        } else if found.orphaned() {
            "orphaned"
        } else {
            "running"
        },
        clients: found.clients,
    }
}

/// Listing and pruning read small files and need no async runtime, so they
/// build none (it would map code they never use); removing a pair may stop
/// its daemon, which is async.
pub fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    match args.action {
        None => list(&ctx, &args.list),
        Some(Action::List(l)) => list(&ctx, &l),
        Some(Action::Rm { name }) => super::block_on(rm(&ctx, &name)),
        Some(Action::Prune { dry_run }) => prune(&ctx, dry_run),
    }
}

fn row(pair: &Pair, root: &std::path::Path) -> Row {
    let (state, file) = pidfile::state(pair);
    let now = crate::clock::now_ms();
    Row {
        id: pair.id.clone(),
        name: pair.name.clone(),
        root: pair.root.display().to_string(),
        slot: pair.slot,
        ports: pair.ports,
        daemon: state.as_str(),
        pid: file.as_ref().map(|f| f.pid),
        uptime_ms: file.as_ref().map(|f| now - f.started_ms),
        version: file.map(|f| f.version),
        this_project: pair.root == root,
        app_server: orphan::find(pair).as_ref().map(app_row),
    }
}

/// The usable pairs; registry entries abg refuses are reported on stderr
/// (every project's: they say nothing trustworthy about which is which).
pub(super) fn checked_pairs(ctx: &Context) -> anyhow::Result<Vec<Pair>> {
    let listing = ctx.registry.list_checked()?;
    for invalid in &listing.invalid {
        eprintln!("abg: warning: {invalid}");
    }
    Ok(listing.pairs)
}

fn list(ctx: &Context, args: &ListArgs) -> anyhow::Result<ExitCode> {
    let rows: Vec<Row> = checked_pairs(ctx)?
        .iter()
        .filter(|p| args.all || p.root == ctx.root)
        .map(|p| row(p, &ctx.root))
        .collect();
    if args.json {
        output::json(&rows)?;
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        output::line(if args.all {
            "no pairs yet; `abg claude` or `abg codex` creates one".to_string()
        } else {
            format!(
                "no pairs in {}; `abg claude` or `abg codex` creates one (`--all` lists every project)",
                ctx.root.display()
            )
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    output::line(format!(
        "{:<16} {:>4}  {:<17} {:<8} {:>8}  {:<9}  {}",
        "NAME", "SLOT", "PORTS", "DAEMON", "UPTIME", "CODEX", "PROJECT"
    ))?;
    let mut orphans = Vec::new();
    for r in &rows {
        output::line(format!(
            "{:<16} {:>4}  {:<17} {:<8} {:>8}  {:<9}  {}",
            r.name,
            r.slot,
            format!("{}/{}/{}", r.ports.app, r.ports.reserved, r.ports.control),
            r.daemon,
            r.uptime_ms
                .map(output::human_duration)
                .unwrap_or_else(|| "-".into()),
            r.app_server.as_ref().map_or("-", |a| a.state),
            r.root
        ))?;
        if let Some(a) = r.app_server.as_ref().filter(|a| a.state != "running") {
            orphans.push(format!(
                "{}: codex app-server pid {} runs without its daemon ({} client(s))",
                r.name, a.pid, a.clients
            ));
        }
    }
    for o in &orphans {
        output::line(o)?;
    }
    if !orphans.is_empty() {
        output::line(
            "stop them with `abg kill --all` (or `abg pair prune` for those without a client)",
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

async fn rm(ctx: &Context, name: &str) -> anyhow::Result<ExitCode> {
    let name = PairName::new(name)?;
    let id = pair_id(&ctx.root, &name);
    let Some(pair) = ctx.registry.find(&ctx.root, &name)? else {
        anyhow::bail!(
            "no pair named {name:?} in {} (id {id}); `abg pair` lists them",
            ctx.root.display()
        );
    };
    let stopped = ensure::stop(&pair).await?;
    ctx.registry.remove(&pair.id)?;
    output::line(format!(
        "removed pair {} ({}){}",
        pair.name,
        pair.id,
        if stopped == ensure::Stopped::NotRunning {
            ""
        } else {
            "; its daemon was stopped"
        }
    ))?;
    Ok(ExitCode::SUCCESS)
}

fn prune(ctx: &Context, dry_run: bool) -> anyhow::Result<ExitCode> {
    let mut count = 0;
    for pair in checked_pairs(ctx)? {
        let gone = !pair.root.exists();
        let app = orphan::find(&pair);
        // An app-server nobody will come back for; a pair being removed
        // takes its app-server along whatever uses it.
        if let Some(found) = app
            .as_ref()
            .filter(|f| f.abandoned() || (gone && f.orphaned()))
        {
            count += 1;
            let pid = found.state.pid;
            if dry_run {
                output::line(format!(
                    "would stop the orphaned codex app-server of {} ({}): pid {pid}",
                    pair.name, pair.id
                ))?;
            } else {
                let how = orphan::stop_recorded(&pair);
                output::line(format!(
                    "orphaned codex app-server of {} ({}), pid {pid}: {}",
                    pair.name,
                    pair.id,
                    how.as_str()
                ))?;
            }
        }
        if !gone {
            continue;
        }
        count += 1;
        let (state, _) = pidfile::state(&pair);
        let daemon_up = state != pidfile::DaemonState::Stopped;
        if dry_run {
            output::line(format!(
                "would remove {} ({}): {} is gone{}",
                pair.name,
                pair.id,
                pair.root.display(),
                if daemon_up {
                    "; its daemon would be stopped"
                } else {
                    ""
                }
            ))?;
            continue;
        }
        if daemon_up {
            // Its project is gone: nobody will come back for this daemon.
            super::block_on(async {
                ensure::stop(&pair).await?;
                Ok(ExitCode::SUCCESS)
            })?;
        }
        ctx.registry.remove(&pair.id)?;
        output::line(format!(
            "removed {} ({}): {} is gone{}",
            pair.name,
            pair.id,
            pair.root.display(),
            if daemon_up {
                "; its daemon was stopped"
            } else {
                ""
            }
        ))?;
    }
    if count == 0 {
        output::line("nothing to prune")?;
    }
    Ok(ExitCode::SUCCESS)
}
