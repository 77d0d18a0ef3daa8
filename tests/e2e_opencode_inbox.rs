//! End-to-end: OpenCode's permission requests in the approvals inbox, with
//! the real pinned OpenCode against the mock Chat Completions API. Under
//! `--safe`, with the user's own config asking before `bash`, OpenCode's
//! request shows in its TUI and in `abg approvals`; an approval from abg
//! runs the command once, a denial with a reason runs nothing and tells the
//! model why, and an answer given in the TUI first closes the entry and
//! refuses a late one. Skipped (one line) when the pinned CLI is absent; a
//! hard failure with `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use support::abg_opencode::AbgOpenCode;
use support::clis::Need;
use support::mock_chat::{ChatStep, MockChat};
use support::scenario::{self, Scenario};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn abg_opencode_safe_permissions_go_through_the_inbox() {
    scenario::run("abg_opencode_inbox", Need::OpenCode, opencode_inbox);
}

/// The JSON of `abg approvals --json --all`.
fn inbox(abg: &AbgOpenCode, s: &Scenario) -> Result<Value> {
    let out = abg.run_cli(&s.env.workdir, &["approvals", "--json", "--all"])?;
    ensure!(
        out.status.success(),
        "abg approvals failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Waits for OpenCode's dialog and a pending inbox entry for `command`;
/// returns the entry.
async fn opencode_pending(abg: &AbgOpenCode, s: &Scenario, command: &str) -> Result<Value> {
    abg.tui
        .wait_until("OpenCode's permission dialog", WAIT, |sc| {
            sc.contains("Permission required") && sc.contains(command)
        })
        .await?;
    inbox_entry(abg, s, |x| {
        x["state"] == "pending" && x["detail"]["command"] == command
    })
    .await
}

/// Polls the inbox until an entry satisfies `pred`.
async fn inbox_entry(
    abg: &AbgOpenCode,
    s: &Scenario,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let start = Instant::now();
    loop {
        let list = inbox(abg, s)?;
        if let Some(x) = list["approvals"]
            .as_array()
            .and_then(|a| a.iter().find(|x| pred(x)))
        {
            return Ok(x.clone());
        }
        ensure!(start.elapsed() < WAIT, "no such inbox entry: {list:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `abg opencode --safe` with the user's config asking before `bash`:
/// OpenCode's request shows in its TUI and in `abg approvals` (a command,
/// with every option OpenCode offers); approved from abg, the command runs
/// once and the dialog closes; denied with a reason, nothing runs and the
/// model is told the reason; answered in the TUI first, the entry says so
/// and a late `abg approve` is refused. Each request was answered once.
async fn opencode_inbox(s: Scenario) -> Result<()> {
    let mock = MockChat::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("chat mock requests", move || log.summary(40));
    // The user's own project config asks before commands.
    std::fs::write(
        s.env.workdir.join("opencode.json"),
        json!({"permission": {"bash": "ask"}}).to_string(),
    )?;
    let abg = AbgOpenCode::start_with(&s, &mock, &["--safe"]).await?;
    let config = abg.server_config().await?;
    ensure!(
        config["permission"] == json!({"bash": "ask"}),
        "--safe keeps the user's permissions as they are: {config}"
    );
    let bash = |command: &str| {
        ChatStep::tool_call(
            "bash",
            json!({"command": command, "description": "a probe"}),
        )
    };
    let send = |text: &str| -> Result<()> {
        let out = abg.run_cli(&s.env.workdir, &["send", "--to", "opencode", text])?;
        ensure!(
            out.status.success(),
            "abg send failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(())
    };
    let work = &s.env.workdir;

    // 1. Approved from abg.
    mock.push(bash("echo approved > perm.txt"));
    mock.push(ChatStep::text("done: approved"));
    send("run the first probe")?;
    let entry = opencode_pending(&abg, &s, "echo approved > perm.txt").await?;
    ensure!(
        entry["peer"] == "opencode" && entry["kind"] == "command",
        "{entry:#}"
    );
    ensure!(
        entry["options"] == json!(["approve", "approve_for_session", "deny"]),
        "{entry:#}"
    );
    let id = entry["id"].as_str().context("id")?.to_owned();
    let out = abg.run_cli(work, &["approve", &id])?;
    ensure!(
        out.status.success(),
        "abg approve failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    support::safe_codex::wait_file(&work.join("perm.txt"), WAIT).await?;
    ensure!(std::fs::read_to_string(work.join("perm.txt"))?.trim() == "approved");
    abg.tui
        .wait_gone("Permission required", Duration::from_secs(20))
        .await?;
    let control = abg.control()?;
    control
        .wait_message("the approved turn's answer", WAIT, |m| {
            m["from"] == "opencode" && m["body"] == "done: approved"
        })
        .await?;
    let done = inbox_entry(&abg, &s, |x| x["id"] == id.as_str()).await?;
    ensure!(
        done["state"] == "approved" && done["answered_via"] == "cli",
        "{done:#}"
    );

    // 2. Denied with a reason: nothing runs, the model hears why.
    mock.push(bash("echo rejected > rej.txt"));
    mock.push(ChatStep::text("done: denied"));
    send("run the second probe")?;
    let entry = opencode_pending(&abg, &s, "echo rejected > rej.txt").await?;
    let id = entry["id"].as_str().context("id")?.to_owned();
    let out = abg.run_cli(work, &["deny", &id, "--reason", "not in this repo"])?;
    ensure!(
        out.status.success(),
        "abg deny failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let start = Instant::now();
    loop {
        let heard = mock
            .requests()
            .iter()
            .any(|r| r.body.to_string().contains("not in this repo"));
        if heard {
            break;
        }
        ensure!(
            start.elapsed() < WAIT,
            "the model never heard the reason: {}",
            mock.log().summary(10)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    ensure!(!work.join("rej.txt").exists(), "a denied command ran");
    let done = inbox_entry(&abg, &s, |x| x["id"] == id.as_str()).await?;
    ensure!(done["state"] == "denied", "{done:#}");

    // 3. Answered in the TUI first (Enter takes "Allow once").
    mock.push(bash("echo tui > tui.txt"));
    mock.push(ChatStep::text("done: tui"));
    send("run the third probe")?;
    let entry = opencode_pending(&abg, &s, "echo tui > tui.txt").await?;
    let id = entry["id"].as_str().context("id")?.to_owned();
    support::inbox::answer(&abg.tui, "Enter", "Permission required").await?;
    support::safe_codex::wait_file(&work.join("tui.txt"), WAIT).await?;
    let done = inbox_entry(&abg, &s, |x| x["id"] == id.as_str()).await?;
    ensure!(
        done["state"] == "answered_elsewhere" && done["answered_via"] == "tui",
        "{done:#}"
    );
    let late = abg.run_cli(work, &["approve", &id])?;
    ensure!(!late.status.success(), "a late approve was taken");
    let err = String::from_utf8_lossy(&late.stderr);
    ensure!(
        err.contains("answered_elsewhere via tui"),
        "the refusal names the TUI: {err}"
    );
    // Every command ran exactly once.
    for (f, text) in [("perm.txt", "approved"), ("tui.txt", "tui")] {
        let got = std::fs::read_to_string(work.join(f))?;
        ensure!(got.trim() == text, "{f}: {got:?}");
    }
    abg.shutdown(&s).await
}
