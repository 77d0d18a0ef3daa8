//! End-to-end: `--safe` versus abg's default permission mode for Claude
//! Code, with the real pinned CLI (Claude Code 2.1.330) against the mock
//! model API (Codex's side is `tests/e2e_safe.rs`).
//!
//! The README promises: without `--safe` abg runs Claude without permission
//! prompts (`--dangerously-skip-permissions`); with `--safe` it keeps its
//! normal prompts. The project's settings say `permissions.defaultMode =
//! "default"` (manual approvals), so the default mode must override them
//! and `--safe` must keep them. Default: no dialog, the Bash command runs.
//! `--safe`: Claude's "Do you want to proceed?" dialog, the file does not
//! exist until approved. A user with no permission setting gets Claude's
//! own default under `--safe`, which on 2.1.330 is auto mode.
//!
//! With `--safe`, Claude's dialog is also answered from abg's inbox (the
//! channel permission relay: `abg approve` / `abg deny`) and in its own
//! terminal first. The seed, the scripted turn and the reads live in
//! `support::safe_claude`.
//!
//! Skipped (one line) when the pinned CLI is absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use anyhow::{Result, ensure};

use support::WAIT;
use support::abg_claude::{AbgClaude, Launch};
use support::clis::Need;
use support::inbox::{answer, ensure_ok, ensure_refused};
use support::safe_claude::{
    CLAUDE_DIALOG, CLAUDE_DIALOG_TITLE, MANUAL_PROJECT_SETTINGS, Turn as ClaudeTurn, claude_entry,
    claude_tool_results, claude_turn_pending, claude_turn_requests, setup as claude_setup,
};
use support::safe_codex::wait_file;
use support::scenario::{self, Scenario};

#[test]
fn claude_default_mode_runs_commands_without_prompts() {
    scenario::run("safe_claude_default", Need::Claude, claude_default);
}

async fn claude_default(s: Scenario) -> Result<()> {
    let mock = claude_setup(&s, Some(MANUAL_PROJECT_SETTINGS)).await?;
    let abg = AbgClaude::start(&s, &mock, &Launch::default()).await?;
    let turn = ClaudeTurn::new(&s, "default");
    turn.push_script(&mock);
    abg.tui.type_text(&turn.human).await?;
    let screen = abg
        .tui
        .wait_until("Claude's last reply (or a permission dialog)", WAIT, |sc| {
            sc.contains(CLAUDE_DIALOG) || sc.contains(&turn.done)
        })
        .await?;
    if screen.contains(CLAUDE_DIALOG) {
        return Err(s
            .diag
            .with_report("Claude asked for permission in abg's default mode"));
    }
    ensure!(
        screen.contains("bypass permissions on"),
        "not in bypass mode:\n{screen}"
    );
    ensure!(
        turn.path.exists(),
        "the marker was not created in the default mode"
    );
    Ok(())
}

#[test]
fn claude_safe_mode_keeps_the_permission_dialog() {
    scenario::run("safe_claude_safe", Need::Claude, claude_safe);
}

async fn claude_safe(s: Scenario) -> Result<()> {
    let mock = claude_setup(&s, Some(MANUAL_PROJECT_SETTINGS)).await?;
    let abg = AbgClaude::start_with_args(&s, &mock, &Launch::default(), &["--safe"]).await?;
    let screen = abg.tui.screen()?;
    ensure!(
        screen.contains("manual mode on") && !screen.contains("bypass permissions"),
        "--safe did not keep the project's manual mode:\n{screen}"
    );
    let turn = ClaudeTurn::new(&s, "safe");
    turn.push_script(&mock);
    let mark = mock.log().len();
    abg.tui.type_text(&turn.human).await?;
    let screen = abg
        .tui
        .wait_until(
            "Claude's permission dialog (or the turn's end)",
            WAIT,
            |sc| {
                (sc.contains(CLAUDE_DIALOG) && sc.contains(&turn.command))
                    || sc.contains(&turn.done)
            },
        )
        .await?;
    if !screen.contains(CLAUDE_DIALOG) {
        return Err(s
            .diag
            .with_report("--safe: the Bash command ran without a permission dialog"));
    }
    ensure!(
        screen.contains(CLAUDE_DIALOG_TITLE) && screen.contains("1. Yes"),
        "unexpected dialog:\n{screen}"
    );
    ensure!(
        !turn.path.exists(),
        "the marker exists while the permission dialog is up"
    );
    ensure!(
        claude_turn_requests(&mock, mark) == 1,
        "the tool ran before it was approved: {}",
        mock.log().summary(10)
    );
    // Option 1 ("Yes") is preselected; a dialog ignores keys for a moment
    // after it appears, so press until it is gone.
    answer(&abg.tui, "Enter", CLAUDE_DIALOG).await?;
    abg.tui.wait_for(&turn.done, WAIT).await?;
    wait_file(&turn.path, WAIT).await?;
    Ok(())
}

#[test]
fn claude_safe_mode_without_user_settings_is_claudes_own_default() {
    scenario::run("safe_claude_own_default", Need::Claude, claude_own_default);
}

/// No permission setting anywhere: `--safe` leaves Claude in its own
/// default mode, which on 2.1.330 is auto mode, not bypass.
async fn claude_own_default(s: Scenario) -> Result<()> {
    let mock = claude_setup(&s, None).await?;
    let abg = AbgClaude::start_with_args(&s, &mock, &Launch::default(), &["--safe"]).await?;
    let screen = abg.tui.screen()?;
    ensure!(
        screen.contains("auto mode on") && !screen.contains("bypass permissions"),
        "--safe without settings:\n{screen}"
    );
    Ok(())
}

#[test]
fn claude_safe_mode_permission_is_answered_from_abg() {
    scenario::run("safe_claude_inbox", Need::Claude, claude_inbox);
}

/// `--safe` with the inbox, Claude's side (channel permission relay):
/// Claude's Bash dialog is recorded in the inbox while it is up; `abg
/// approve` lets the command run once and the turn goes on; `abg deny`
/// refuses it (the model is told, nothing runs); a dialog answered in
/// Claude's terminal closes its entry as answered there and a late `abg
/// approve` is refused.
async fn claude_inbox(s: Scenario) -> Result<()> {
    let mock = claude_setup(&s, Some(MANUAL_PROJECT_SETTINGS)).await?;
    let abg = AbgClaude::start_with_args(&s, &mock, &Launch::default(), &["--safe"]).await?;

    // Approved from abg.
    let (turn, entry) = claude_turn_pending(&abg, &s, &mock, "relay-allow").await?;
    ensure!(
        entry["kind"] == "command" && entry["detail"]["tool"] == "Bash",
        "{entry:#}"
    );
    ensure!(!turn.path.exists(), "the marker exists before the answer");
    let id = entry["id"].as_str().unwrap_or_default().to_string();
    let out = abg.run_cli(&["approve", &id])?;
    ensure_ok(&out, "abg approve")?;
    abg.tui.wait_for(&turn.done, WAIT).await?;
    wait_file(&turn.path, WAIT).await?;
    let entry = claude_entry(&abg, &turn.command, "approved").await?;
    ensure!(entry["answered_via"] == "cli", "{entry:#}");
    let results = claude_tool_results(&mock);
    ensure!(
        results.len() == 1 && results[0]["is_error"] != true,
        "the approved command did not run once: {results:#?}"
    );

    // Denied from abg: nothing runs, the model is told.
    let (turn, entry) = claude_turn_pending(&abg, &s, &mock, "relay-deny").await?;
    let id = entry["id"].as_str().unwrap_or_default().to_string();
    let out = abg.run_cli(&["deny", &id, "--reason", "not now"])?;
    ensure_ok(&out, "abg deny")?;
    abg.tui.wait_for(&turn.done, WAIT).await?;
    let results = claude_tool_results(&mock);
    ensure!(
        results.len() == 2
            && results[1]["is_error"] == true
            && results[1].to_string().contains("doesn't want to proceed"),
        "the model was not told of the denial: {results:#?}"
    );
    ensure!(!turn.path.exists(), "a denied command ran");
    claude_entry(&abg, &turn.command, "denied").await?;

    // Answered in Claude's terminal first.
    let (turn, entry) = claude_turn_pending(&abg, &s, &mock, "tui-first").await?;
    let id = entry["id"].as_str().unwrap_or_default().to_string();
    answer(&abg.tui, "Enter", CLAUDE_DIALOG).await?;
    abg.tui.wait_for(&turn.done, WAIT).await?;
    wait_file(&turn.path, WAIT).await?;
    let entry = claude_entry(&abg, &turn.command, "answered_elsewhere").await?;
    ensure!(entry["answered_via"] == "tui", "{entry:#}");
    let late = abg.run_cli(&["approve", &id])?;
    ensure_refused(&late, "answered_elsewhere", "a late answer after the TUI's")?;
    ensure!(
        claude_tool_results(&mock).len() == 3,
        "Claude saw one answer per call: {:#?}",
        claude_tool_results(&mock)
    );
    Ok(())
}
