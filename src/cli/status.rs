//! `abg status`: the pair's daemon health, ports, pids, state dir, versions
//! and effective config. Starts the daemon when it is absent, unless
//! `abg kill` stopped it on purpose.

use std::process::ExitCode;

use serde_json::json;

use super::{Context, output};
use crate::control::protocol::DaemonStatus;
use crate::daemon::ensure;
use crate::store::types::DeliveryReason;

/// Show this pair's daemon health, ports, pids, state dir and versions.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.pair()?;
    if pair.killed_file().exists() {
        let (state, _) = crate::daemon::pidfile::state(&pair);
        if args.json {
            output::json(&json!({
                "pair_id": pair.id,
                "pair_name": pair.name,
                "root": pair.root,
                "state_dir": pair.dir,
                "daemon": state.as_str(),
                "killed": true,
                "ports": pair.ports,
                "config": ctx.config.explain(),
            }))?;
        } else {
            output::line(format!(
                "pair      {} ({})\ndaemon    {} — stopped by `abg kill`; `abg claude` or `abg codex` starts it again",
                pair.name,
                pair.id,
                state.as_str()
            ))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let ensured = ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    if args.json {
        let mut value = serde_json::to_value(&ensured.status)?;
        if let Some(obj) = value.as_object_mut() {
            obj.insert("daemon".into(), json!("ready"));
            obj.insert("spawned".into(), json!(ensured.spawned));
            obj.insert("ports".into(), serde_json::to_value(pair.ports)?);
        }
        output::json(&value)?;
    } else {
        // Thread ids, delivery details and pause reasons may quote agents.
        output::agent_line(render(&ensured.status, &pair), false)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn yes_no(b: bool) -> &'static str {
    if b { "attached" } else { "not attached" }
}

fn render(s: &DaemonStatus, pair: &crate::pair::Pair) -> String {
    let mut out = render_head(s, pair);
    let codex = s
        .peers
        .get(crate::codex::PEER.as_str())
        .and_then(|p| p.view.clone())
        .and_then(|v| serde_json::from_value::<crate::codex::session::CodexView>(v).ok());
    if let Some(c) = &codex {
        out.push_str(&format!(
            "\ncodex     thread {} · turn {}{}",
            c.thread_id.as_deref().unwrap_or("none yet"),
            c.turn,
            c.turn_id
                .as_deref()
                .map(|t| format!(" ({t})"))
                .unwrap_or_default()
        ));
    }
    if s.approvals_pending > 0 {
        out.push_str(&format!(
            "\napprovals {} waiting — `abg approvals` lists them",
            s.approvals_pending
        ));
    }
    if let Some(why) = &s.relay_paused {
        out.push_str(&format!("\nrelay     paused: {why}"));
    }
    for p in &s.pending {
        out.push_str(&format!(
            "\n  {} {} → {} {}{} ({} ago){}",
            p.id,
            p.from,
            p.to,
            p.state,
            reason_label(p.reason.as_deref()),
            output::human_duration(p.age_ms),
            p.detail
                .as_deref()
                .map(|d| format!(" — {d}"))
                .unwrap_or_default()
        ));
    }
    out
}

/// ` [why]` for a delivery reason: its phrase when this build knows it, else its name.
fn reason_label(reason: Option<&str>) -> String {
    match reason {
        None => String::new(),
        Some(r) => match r.parse::<DeliveryReason>() {
            Ok(known) => format!(" [{}]", known.label()),
            Err(_) => format!(" [{r}]"),
        },
    }
}

fn render_head(s: &DaemonStatus, pair: &crate::pair::Pair) -> String {
    format!(
        "pair      {} ({})\nproject   {}\ndaemon    ready · pid {} · up {} · abg {} (protocol {})\nports     codex app-server {} · reserved {} · control/web {}\nstate     {}\nagents    {}\nqueues    {}",
        s.pair_name,
        s.pair_id,
        s.root,
        s.pid,
        output::human_duration(s.uptime_ms),
        s.version,
        s.protocol,
        pair.ports.app,
        pair.ports.reserved,
        pair.ports.control,
        s.state_dir,
        s.peers
            .iter()
            .filter(|(_, p)| p.takes_part != Some(false))
            .map(|(id, p)| format!("{id} {}", yes_no(p.attached)))
            .collect::<Vec<_>>()
            .join(" · "),
        s.peers
            .iter()
            .filter(|(_, p)| p.takes_part != Some(false))
            .map(|(id, p)| format!("to {id} {}", p.queued))
            .collect::<Vec<_>>()
            .join(" · "),
    )
}
