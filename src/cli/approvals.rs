//! `abg approvals`: the approvals inbox — what the agents asked the human to
//! allow (run a command, change files, …), pending ones first. Answer one
//! with `abg approve` or `abg deny`. `-f` keeps printing requests as they
//! arrive and as they are answered (anywhere), like `abg log -f`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::Duration;

use super::{Context, output};
use crate::control::client::Client;
use crate::control::protocol::approvals::{Approval, ApprovalState};
use crate::daemon::ensure;

/// List the agents' approval requests waiting for an answer.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Also list answered, expired and abandoned requests.
    #[arg(long)]
    pub all: bool,
    /// Most requests listed.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: u32,
    /// Print JSON instead of text (with `-f`, one object per line).
    #[arg(long)]
    pub json: bool,
    /// Keep printing new requests and every change of state (answered
    /// here, in the web UI or in the agent's terminal) until interrupted.
    #[arg(short, long)]
    pub follow: bool,
}

pub async fn run(ctx: Context, args: Args) -> anyhow::Result<ExitCode> {
    let pair = ctx.pair()?;
    ensure::ensure_running(&pair, ctx.ready_timeout()).await?;
    let client = Client::for_pair(&pair)?;
    if args.follow {
        return follow(&client, &args).await;
    }
    let list = client.approvals(args.all, args.limit).await?;
    if args.json {
        output::json(&list)?;
        return Ok(ExitCode::SUCCESS);
    }
    if list.approvals.is_empty() {
        output::line(if args.all {
            "no approval requests yet"
        } else {
            "no approval requests waiting"
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let now = crate::clock::now_ms();
    for a in &list.approvals {
        // What is asked quotes the agent: shown, never executed.
        output::agent_line(render(a, now), false)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// One request as a line: id, peer, kind, state, age, what is asked.
pub(super) fn render(a: &Approval, now: i64) -> String {
    let state = if a.state == crate::store::types::ApprovalState::Pending {
        format!(
            "pending ({} ago; {})",
            output::human_duration(now - a.created_ms),
            offered(a)
        )
    } else {
        a.answered_text()
    };
    format!(
        "{} {} {} — {}\n  {}",
        a.id,
        a.peer,
        a.kind.as_str(),
        state,
        summary(&a.detail)
    )
}

/// Print `first`, then every new request and state change, polling the
/// daemon (it may restart meanwhile: errors are reported and retried).
async fn follow(client: &Client, args: &Args) -> anyhow::Result<ExitCode> {
    let mut seen: HashMap<String, String> = HashMap::new();
    let mut first = client.approvals(true, args.limit).await?.approvals;
    // Without --all, what was already closed is history: not shown.
    for a in first
        .iter()
        .filter(|a| !args.all && a.state != ApprovalState::Pending)
    {
        seen.insert(a.id.clone(), a.state.as_str().to_string());
    }
    first.retain(|a| args.all || a.state == ApprovalState::Pending);
    let print = |a: &Approval| -> anyhow::Result<()> {
        if args.json {
            output::line(output::json_text(a, false)?)
        } else {
            output::agent_line(render(a, crate::clock::now_ms()), false)
        }
    };
    // Oldest first, so a follower reads them in the order they came.
    let mut batch = first;
    loop {
        batch.sort_by_key(|a| (a.answered_ms.unwrap_or(a.created_ms), a.created_ms));
        for a in &batch {
            let state = a.state.as_str().to_string();
            if seen.get(&a.id) != Some(&state) {
                print(a)?;
                seen.insert(a.id.clone(), state);
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        batch = match client.approvals(true, args.limit).await {
            Ok(list) => list.approvals,
            Err(e) => {
                eprintln!("abg: {e}; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
                Vec::new()
            }
        };
    }
}

/// The decisions a request offers, as `abg approve`/`abg deny` read them.
fn offered(a: &Approval) -> String {
    match &a.options {
        Some(o) if !o.is_empty() => o.join(" / "),
        _ => "approve / deny".into(),
    }
}

/// The gist of what is asked: the command, path, tool or question, with
/// the reason; else the detail as JSON.
fn summary(detail: &serde_json::Value) -> String {
    let field = |k: &str| {
        detail
            .get(k)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
    };
    // A file change (Codex): its paths and kinds.
    let files = detail.get("changes").and_then(|c| c.as_array()).map(|c| {
        c.iter()
            .map(|ch| {
                let path = ch.get("path").and_then(|p| p.as_str()).unwrap_or("?");
                match ch.pointer("/kind/type").and_then(|k| k.as_str()) {
                    Some(kind) => format!("{path} ({kind})"),
                    None => path.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    // A tool call (Claude): the tool and a cut of its input's preview.
    let tool = field("tool").map(|t| match field("input_preview") {
        Some(p) if p.chars().count() > 200 => {
            format!("{t} {}…", p.chars().take(200).collect::<String>())
        }
        Some(p) => format!("{t} {p}"),
        None => t.to_owned(),
    });
    let reason = field("reason").or_else(|| field("description"));
    let what = ["command", "path", "question", "message"]
        .iter()
        .find_map(|k| field(k).map(str::to_owned))
        .or(files.filter(|f| !f.is_empty()))
        .or(tool);
    let what = what.as_deref();
    match (what, reason) {
        (Some(w), Some(r)) => format!("{w} (reason: {r})"),
        (Some(w), None) => w.to_owned(),
        (None, Some(r)) => r.to_owned(),
        (None, None) => detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::store::types::{ApprovalKind, ApprovalState, PeerId};

    #[test]
    fn a_request_reads_as_its_gist_with_what_it_offers() {
        let a = Approval {
            id: "a_1".into(),
            peer: PeerId::from_static("codex"),
            request_key: "0:t".into(),
            kind: ApprovalKind::Command,
            detail: json!({"command": "touch x", "cwd": "/w", "reason": "probe"}),
            options: Some(vec![
                "approve".into(),
                "approve_for_session".into(),
                "deny".into(),
            ]),
            state: ApprovalState::Pending,
            created_ms: 1_000,
            expires_ms: None,
            answered_ms: None,
            answered_by: None,
            answered_via: None,
            decision: None,
        };
        assert_eq!(
            render(&a, 5_000),
            "a_1 codex command — pending (4s ago; approve / approve_for_session / deny)\n  touch x (reason: probe)"
        );
        let odd = Approval {
            detail: json!({"x": 1}),
            options: None,
            ..a
        };
        assert!(render(&odd, 1_000).ends_with("approve / deny)\n  {\"x\":1}"));
        let claude = summary(&json!({"tool": "Bash", "description": "Create marker",
            "input_preview": "{ \"command\": \"touch x\" }"}));
        assert_eq!(
            claude,
            "Bash { \"command\": \"touch x\" } (reason: Create marker)"
        );
        let files = summary(&json!({"command": null, "reason": null,
            "changes": [{"path": "/w/a", "kind": {"type": "add"}, "diff": "x"}]}));
        assert_eq!(files, "/w/a (add)");
    }
}
