//! End-to-end: `--safe` versus abg's default permission mode for Codex,
//! with the real pinned CLI (Codex 0.169.0) against the mock model API
//! (Claude's side is `tests/e2e_safe_claude.rs`).
//!
//! The README promises: without `--safe` abg runs Codex without permission
//! prompts (`--yolo` on a fresh launch and, because `codex resume --remote`
//! refuses permission overrides, the mode of the daemon-owned app-server);
//! with `--safe` it keeps its normal prompts. Each scenario seeds the
//! *user's own* config asking for prompts, so the default mode must
//! override it and `--safe` must keep it:
//!
//! - Codex: `approval_policy = "on-request"` and Codex's default sandbox
//!   (the seeded project is trusted, so `workspace-write`). Under that
//!   config Codex 0.169.0 runs a plain command inside the workspace without
//!   asking, so the scripted model targets `.codex/` in the project, which
//!   the workspace sandbox keeps read-only: it runs `touch .codex/<marker>`,
//!   then the same command with `sandbox_permissions: "require_escalated"`
//!   (what Codex's own instructions tell a model to do after a sandbox
//!   denial), then answers. The same script in both modes. Default: the
//!   plain command creates the file, the escalation is refused by Codex
//!   itself ("approval policy is Never"), no prompt ever shows. `--safe`:
//!   the sandbox refuses the plain command, the escalation raises Codex's
//!   approval overlay, the file does not exist while it is up, approving
//!   creates it. (No command both prompts under `on-request` and runs under
//!   `never`: 0.169.0 rejects whatever would need approval, escalations,
//!   `prompt` rules and `rm -f` alike.)
//! - Codex resume: one pair, its daemon up throughout, relaunched. Codex
//!   keeps a resumed thread's permissions (and `codex resume --remote`
//!   takes no override; neither does `fork`), so `abg codex` resumes the
//!   pair's thread only in the mode it was started in: default then default
//!   resumes (no prompt), `--safe` after that starts a new thread and says
//!   so (prompt), `--safe` again resumes that one (prompt).
//!
//! With `--safe`, an approval is also answered from abg's inbox (`abg
//! approve` / `abg deny`), in the TUI first, and across a killed daemon.
//! The seed, the scripted turn and the reads live in `support::safe_codex`.
//!
//! Skipped (one line) when the pinned CLI is absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};

use support::abg_codex::AbgCodex;
use support::clis::Need;
use support::inbox::{answer, ensure_ok, ensure_refused};
use support::mock_openai::{MockOpenAi, Step};
use support::safe_codex::{
    CODEX_APPROVAL, RAN, Turn as CodexTurn, codex_entry, codex_entry_in, codex_permissions,
    codex_turn_pending, codex_turn_request, ensure_answered, ensure_on_thread_of, ensure_resumed,
    kill_daemon, new_thread, outputs as codex_outputs, recorded_thread, setup as codex_setup,
    sigkill_daemon, wait_file,
};
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

/// Codex 0.169.0's command approval overlay (see `support::safe_codex`),
/// and its approve option.
const CODEX_APPROVE: &str = "Yes, proceed (y)";
/// Codex's header under `--yolo`.
const CODEX_YOLO_HEADER: &str = "permissions: YOLO mode";
/// What Codex tells the model about its permissions (0.169.0).
const CODEX_YOLO_SANDBOX: &str = "`sandbox_mode` is `danger-full-access`";
const CODEX_NEVER: &str = "Approval policy is currently never";
const CODEX_SAFE_SANDBOX: &str = "`sandbox_mode` is `workspace-write`";

/// A default-mode turn: no approval prompt, the file is created by the
/// plain command, Codex itself refuses the escalation.
async fn codex_turn_without_prompt(
    s: &Scenario,
    mock: &MockOpenAi,
    abg: &AbgCodex,
    turn: &CodexTurn,
) -> Result<()> {
    turn.push_script(mock);
    abg.tui.type_text(&turn.human).await?;
    let screen = abg
        .tui
        .wait_until(
            "the turn's last reply (or an approval prompt)",
            WAIT,
            |sc| sc.contains(CODEX_APPROVAL) || sc.contains(&turn.done),
        )
        .await?;
    if screen.contains(CODEX_APPROVAL) {
        return Err(s
            .diag
            .with_report("Codex asked for approval in abg's default mode"));
    }
    ensure!(
        turn.path.exists(),
        "{} was not created in the default mode",
        turn.rel
    );
    let outputs = codex_outputs(mock, &turn.rel);
    ensure!(
        outputs.len() == 2
            && outputs[0].contains(RAN)
            && outputs[1].contains("approval policy is Never"),
        "default mode: expected the plain command to succeed and the escalation to be refused \
         for lack of approvals, got {outputs:#?}"
    );
    let perms = codex_permissions(&codex_turn_request(mock, &turn.human)?);
    ensure!(
        perms.contains(CODEX_YOLO_SANDBOX) && perms.contains(CODEX_NEVER),
        "default mode: the model was told {perms:?}"
    );
    Ok(())
}

/// A `--safe` turn: the sandbox refuses the plain command, the escalation
/// raises the approval overlay, the file is absent until it is approved.
async fn codex_turn_with_prompt(
    s: &Scenario,
    mock: &MockOpenAi,
    abg: &AbgCodex,
    turn: &CodexTurn,
) -> Result<()> {
    turn.push_script(mock);
    abg.tui.type_text(&turn.human).await?;
    let command = format!("$ touch {}", turn.rel);
    let screen = abg
        .tui
        .wait_until("Codex's approval prompt (or the turn's end)", WAIT, |sc| {
            (sc.contains(CODEX_APPROVAL) && sc.contains(&command)) || sc.contains(&turn.done)
        })
        .await?;
    if !screen.contains(CODEX_APPROVAL) {
        return Err(s
            .diag
            .with_report("--safe: the turn ran through without an approval prompt"));
    }
    ensure!(
        screen.contains(CODEX_APPROVE),
        "no approve option:\n{screen}"
    );
    ensure!(
        !turn.path.exists(),
        "{} exists while the approval prompt is up",
        turn.rel
    );
    // The plain attempt hit the sandbox; the escalated one waits on the user.
    let outputs = codex_outputs(mock, &turn.rel);
    ensure!(
        outputs.len() == 1 && outputs[0].contains("Read-only file system"),
        "--safe: expected only the sandbox's refusal so far, got {outputs:#?}"
    );
    let perms = codex_permissions(&codex_turn_request(mock, &turn.human)?);
    ensure!(
        perms.contains(CODEX_SAFE_SANDBOX) && !perms.contains(CODEX_NEVER),
        "--safe: the model was told {perms:?}"
    );
    ensure!(
        !turn.path.exists(),
        "{} appeared while the approval prompt was up",
        turn.rel
    );
    answer(&abg.tui, "y", CODEX_APPROVAL).await?;
    abg.tui.wait_for(&turn.done, WAIT).await?;
    wait_file(&turn.path, WAIT).await?;
    ensure_answered(
        mock,
        turn,
        RAN,
        "--safe: the approved command did not run cleanly",
    )
}

#[test]
fn codex_default_mode_runs_commands_without_prompts() {
    scenario::run("safe_codex_default", Need::Codex, codex_default);
}

async fn codex_default(s: Scenario) -> Result<()> {
    let mock = codex_setup(&s).await?;
    let abg = AbgCodex::start(&s, &[]).await?;
    let result = async {
        let argv = abg.tui_argv()?;
        ensure!(
            argv.contains("--yolo") && !argv.contains(" resume "),
            "fresh default launch: {argv}"
        );
        abg.tui.wait_for(CODEX_YOLO_HEADER, WAIT).await?;
        codex_turn_without_prompt(&s, &mock, &abg, &CodexTurn::new(&s, "default")).await
    }
    .await;
    abg.shutdown().await?;
    result
}

#[test]
fn codex_safe_mode_keeps_the_approval_prompt() {
    scenario::run("safe_codex_safe", Need::Codex, codex_safe);
}

async fn codex_safe(s: Scenario) -> Result<()> {
    let mock = codex_setup(&s).await?;
    let abg = AbgCodex::start(&s, &["--safe"]).await?;
    let result = async {
        let argv = abg.tui_argv()?;
        ensure!(
            !argv.contains("--yolo") && !argv.contains(" resume "),
            "fresh --safe launch: {argv}"
        );
        let screen = abg.tui.screen()?;
        ensure!(
            !screen.contains("YOLO"),
            "--safe shows a YOLO header:\n{screen}"
        );
        codex_turn_with_prompt(&s, &mock, &abg, &CodexTurn::new(&s, "safe")).await
    }
    .await;
    abg.shutdown().await?;
    result
}

#[test]
fn codex_safe_mode_approval_is_answered_from_abg() {
    scenario::run("safe_codex_inbox", Need::Codex, codex_inbox);
}
/// `--safe` with the inbox: Codex's approval request is recorded while its
/// overlay is up, `abg approve` answers it (the overlay closes, the command
/// runs once, the turn completes), and the inbox says who answered how; a
/// request answered in the TUI first closes as answered there, and a late
/// `abg approve` is refused.
async fn codex_inbox(s: Scenario) -> Result<()> {
    let mock = codex_setup(&s).await?;
    let abg = AbgCodex::start(&s, &["--safe"]).await?;
    let result = async {
        let (turn, id) = codex_turn_pending(&abg, &s, &mock, "inbox").await?;
        ensure!(
            !turn.path.exists(),
            "{} exists before anyone answered",
            turn.rel
        );
        let out = abg.run_cli(&s.env.workdir, &["approve", &id])?;
        ensure_ok(&out, "abg approve")?;
        // Codex took the answer: its overlay closes and the command runs.
        abg.tui
            .wait_until("the approval prompt closed", WAIT, |sc| {
                !sc.contains(CODEX_APPROVAL)
            })
            .await?;
        abg.tui.wait_for(&turn.done, WAIT).await?;
        wait_file(&turn.path, WAIT).await?;
        ensure_answered(
            &mock,
            &turn,
            RAN,
            "the approved command did not run once, cleanly",
        )?;
        // The inbox's record: approved from the terminal, and a second
        // answer is refused.
        let entry = codex_entry(&abg, &s, &id)?;
        ensure!(
            entry["state"] == "approved" && entry["answered_via"] == "cli",
            "inbox entry after the answer: {entry:#}"
        );
        let again = abg.run_cli(&s.env.workdir, &["deny", &id])?;
        ensure_refused(&again, "already approved", "a second answer")?;

        // Denied from abg: the overlay closes, nothing runs, and the
        // model is told the user rejected it.
        let (deny_turn, deny_id) = codex_turn_pending(&abg, &s, &mock, "deny").await?;
        let out = abg.run_cli(&s.env.workdir, &["deny", &deny_id, "--reason", "not now"])?;
        ensure_ok(&out, "abg deny")?;
        abg.tui
            .wait_until("the denied prompt closed", WAIT, |sc| {
                !sc.contains(CODEX_APPROVAL)
            })
            .await?;
        abg.tui.wait_for(&deny_turn.done, WAIT).await?;
        ensure_answered(
            &mock,
            &deny_turn,
            "rejected by user",
            "Codex was not told of the denial",
        )?;
        ensure!(!deny_turn.path.exists(), "a denied command ran");

        // Answered in the TUI first: the inbox entry closes as answered
        // there, and a late answer from abg is refused with that reason.
        let (tui_turn, second) = codex_turn_pending(&abg, &s, &mock, "tui").await?;
        answer(&abg.tui, "y", CODEX_APPROVAL).await?;
        abg.tui.wait_for(&tui_turn.done, WAIT).await?;
        wait_file(&tui_turn.path, WAIT).await?;
        let entry = codex_entry_in(&abg, &s, &second, "answered_elsewhere").await?;
        ensure!(entry["answered_via"] == "tui", "{entry:#}");
        let late = abg.run_cli(&s.env.workdir, &["approve", &second])?;
        ensure_refused(&late, "answered_elsewhere", "a late answer after the TUI's")?;
        ensure_answered(&mock, &tui_turn, RAN, "Codex saw one answer, from its TUI")?;
        Ok(())
    }
    .await;
    abg.shutdown().await?;
    result
}

#[test]
fn codex_approval_survives_a_killed_daemon() {
    scenario::run("safe_codex_inbox_killed", Need::Codex, codex_inbox_killed);
}

/// The daemon is killed (SIGKILL) while an approval is pending. Nothing is
/// approved by it: Codex's overlay stays up and answers from the TUI; the
/// restarted daemon closes the entry Codex no longer has open, and a late
/// `abg approve` is refused. A request still open when the new daemon
/// subscribes is replayed to it and answered from abg once.
async fn codex_inbox_killed(s: Scenario) -> Result<()> {
    let mock = codex_setup(&s).await?;
    let abg = AbgCodex::start(&s, &["--safe"]).await?;
    let result = async {
        let (turn, id) = codex_turn_pending(&abg, &s, &mock, "killed").await?;
        sigkill_daemon(&abg)?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        ensure!(
            abg.tui.screen()?.contains(CODEX_APPROVAL),
            "the overlay closed when the daemon died"
        );
        ensure!(!turn.path.exists(), "the command ran without an answer");
        answer(&abg.tui, "y", CODEX_APPROVAL).await?;
        abg.tui.wait_for(&turn.done, WAIT).await?;
        wait_file(&turn.path, WAIT).await?;
        ensure_answered(
            &mock,
            &turn,
            RAN,
            "the command did not run once, from the TUI's answer",
        )?;
        abg.wait_daemon(WAIT).await?;
        // `abg codex` restarts the daemon within a second or so: the new
        // one either saw the TUI's answer (`serverRequest/resolved`, via
        // tui) or found the request no longer replayed (via agent).
        let entry = codex_entry_in(&abg, &s, &id, "answered_elsewhere").await?;
        ensure!(
            entry["answered_via"] == "tui" || entry["answered_via"] == "agent",
            "{entry:#}"
        );
        let late = abg.run_cli(&s.env.workdir, &["approve", &id])?;
        ensure_refused(&late, "answered_elsewhere", "a late answer")?;

        // Killed and back while the request is still open: the new daemon
        // gets it replayed and takes abg's answer.
        let (turn, id) = codex_turn_pending(&abg, &s, &mock, "replayed").await?;
        kill_daemon(&abg).await?;
        // Let the new daemon subscribe and take the replay.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let entry = codex_entry_in(&abg, &s, &id, "pending").await?;
        ensure!(entry["peer"] == "codex", "{entry:#}");
        let out = abg.run_cli(&s.env.workdir, &["approve", &id])?;
        ensure_ok(&out, "abg approve after the restart")?;
        abg.tui.wait_for(&turn.done, WAIT).await?;
        wait_file(&turn.path, WAIT).await?;
        ensure_answered(&mock, &turn, RAN, "the replayed request did not run once")?;
        Ok(())
    }
    .await;
    abg.shutdown().await?;
    result
}

#[test]
fn codex_resume_follows_the_mode_of_each_launch() {
    scenario::run("safe_codex_resume", Need::Codex, codex_resume);
}
async fn codex_resume(s: Scenario) -> Result<()> {
    let mock = codex_setup(&s).await?;
    let mut abg = AbgCodex::start(&s, &[]).await?;
    let result = codex_resume_steps(&s, &mock, &mut abg).await;
    abg.shutdown().await?;
    result
}

/// One pair, its daemon up throughout, four launches of `abg codex`:
/// default (a first turn), default again (resumes: no prompt), `--safe`
/// (the thread was started without it, so a new thread: prompt), `--safe`
/// again (resumes that one: prompt).
async fn codex_resume_steps(s: &Scenario, mock: &MockOpenAi, abg: &mut AbgCodex) -> Result<()> {
    let t0 = Instant::now();
    let first = "the first turn of the pair";
    mock.push(Step::text("first reply on the pair's thread"));
    abg.tui.type_text(first).await?;
    abg.tui
        .wait_for("first reply on the pair's thread", WAIT)
        .await?;
    let (yolo_thread, mode) = recorded_thread(abg).await?;
    ensure!(
        mode == "yolo",
        "thread started by abg codex recorded as {mode:?}"
    );
    abg.quit().await?;

    // Default again: resumes the thread, which runs without prompts.
    abg.relaunch(s, "abg-codex-2", &[]).await?;
    ensure_resumed(abg, &yolo_thread)?;
    abg.tui.wait_for(CODEX_YOLO_HEADER, WAIT).await?;
    abg.tui
        .wait_for("first reply on the pair's thread", WAIT)
        .await?;
    let resumed_default = CodexTurn::new(s, "resume-default");
    codex_turn_without_prompt(s, mock, abg, &resumed_default).await?;
    ensure_on_thread_of(mock, &resumed_default, first)?;
    abg.quit().await?;

    // --safe: Codex would keep that thread's YOLO permissions on resume, so
    // abg starts a new thread, and the prompt is there.
    abg.relaunch(s, "abg-codex-3", &["--safe"]).await?;
    let safe = CodexTurn::new(s, "new-safe");
    codex_turn_with_prompt(s, mock, abg, &safe).await?;
    let argv = abg.tui_argv()?;
    ensure!(
        !argv.contains(" resume ") && !argv.contains("--yolo"),
        "--safe after a default thread: {argv}"
    );
    let (safe_thread, mode) = new_thread(abg, &yolo_thread).await?;
    ensure!(mode == "safe", "the --safe thread is recorded as {mode:?}");
    abg.quit().await?;
    // What `abg codex` said before the TUI took the terminal.
    let screen = abg.tui.screen()?;
    ensure!(
        screen.contains(&format!(
            "abg: not resuming Codex thread {yolo_thread}: it was started without --safe"
        )),
        "no notice about the thread it did not resume:\n{screen}"
    );

    // --safe again: resumes the --safe thread, and the prompt stays.
    abg.relaunch(s, "abg-codex-4", &["--safe"]).await?;
    ensure_resumed(abg, &safe_thread)?;
    abg.tui.wait_for(&safe.done, WAIT).await?;
    let resumed_safe = CodexTurn::new(s, "resume-safe");
    codex_turn_with_prompt(s, mock, abg, &resumed_safe).await?;
    ensure_on_thread_of(mock, &resumed_safe, &safe.human)?;
    ensure!(
        recorded_thread(abg).await?.0 == safe_thread,
        "the pair's thread changed on a same-mode resume"
    );
    announce(&format!(
        "abg codex resume: default, default (resumed), --safe (new thread), --safe (resumed) in {:.1} s",
        t0.elapsed().as_secs_f64()
    ));
    Ok(())
}
