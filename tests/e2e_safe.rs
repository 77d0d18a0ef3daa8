//! End-to-end: `--safe` versus abg's default permission mode, with the real
//! pinned CLIs (Codex 0.169.0, Claude Code 2.1.330) against the mock model
//! APIs.
//!
//! The README promises: without `--safe` abg runs the agents without
//! permission prompts (`--dangerously-skip-permissions` for Claude; for
//! Codex `--yolo` on a fresh launch and, because `codex resume --remote`
//! refuses permission overrides, the mode of the daemon-owned app-server);
//! with `--safe` they keep their normal prompts. Each scenario seeds the
//! *user's own* config asking for prompts, so the default mode must override
//! it and `--safe` must keep it:
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
//! - Claude: the project's settings say `permissions.defaultMode =
//!   "default"` (manual approvals). Default: no dialog, the Bash command
//!   runs. `--safe`: Claude's "Do you want to proceed?" dialog, the file
//!   does not exist until approved. A user with no permission setting gets
//!   Claude's own default under `--safe`, which on 2.1.330 is auto mode.
//!
//! Skipped (one line) when the pinned CLIs are absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use support::abg_claude::{AbgClaude, Launch};
use support::abg_codex::AbgCodex;
use support::clis::Need;
use support::mock_anthropic::{MockAnthropic, Step as ClaudeStep, has_tools};
use support::mock_openai::{MockOpenAi, Step, is_title_request, user_texts};
use support::safe_codex::{
    CODEX_APPROVAL, Turn as CodexTurn, outputs as codex_outputs, setup as codex_setup, wait_file,
};
use support::scenario::{self, Scenario};
use support::tui::Tui;
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
/// Claude Code 2.1.330's permission dialog for a Bash command.
const CLAUDE_DIALOG: &str = "Do you want to proceed?";
const CLAUDE_DIALOG_TITLE: &str = "Bash command";

// ---------------------------------------------------------------- Codex

/// The first model request of the turn that carries `human`.
fn codex_turn_request(mock: &MockOpenAi, human: &str) -> Result<Value> {
    mock.requests()
        .into_iter()
        .find(|r| {
            r.path == "/v1/responses"
                && !is_title_request(&r.body)
                && user_texts(&r.body)
                    .last()
                    .is_some_and(|t| t.contains(human))
        })
        .map(|r| r.body)
        .with_context(|| format!("no model request for the turn {human:?}"))
}

/// The last `<permissions instructions>` Codex put in a request: what the
/// model is told about approvals and the sandbox for this turn.
fn codex_permissions(body: &Value) -> String {
    let mut last = String::new();
    for item in body["input"].as_array().into_iter().flatten() {
        for part in item["content"].as_array().into_iter().flatten() {
            if let Some(t) = part["text"].as_str()
                && t.contains("<permissions instructions>")
            {
                last = t.to_string();
            }
        }
    }
    last
}

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

/// What Codex reports of a command that ran and succeeded.
const RAN: &str = "Process exited with code 0";

/// Codex sent back two outputs for `turn`'s command (the sandbox's refusal
/// of the plain attempt, then the answered escalation), the second holding
/// `second`; else `what` fails.
fn ensure_answered(mock: &MockOpenAi, turn: &CodexTurn, second: &str, what: &str) -> Result<()> {
    let outputs = codex_outputs(mock, &turn.rel);
    ensure!(
        outputs.len() == 2 && outputs[1].contains(second),
        "{what}: {outputs:#?}"
    );
    Ok(())
}

/// An abg command (`what`) that must succeed.
fn ensure_ok(out: &Output, what: &str) -> Result<()> {
    ensure!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// An answer (`what`) that abg must refuse, saying `reason`.
fn ensure_refused(out: &Output, reason: &str, what: &str) -> Result<()> {
    ensure!(
        !out.status.success() && String::from_utf8_lossy(&out.stderr).contains(reason),
        "{what} was not refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// The arguments of `abg approvals --json [--all]`.
fn approvals_args(all: bool) -> Vec<&'static str> {
    let mut args = vec!["approvals", "--json"];
    if all {
        args.push("--all");
    }
    args
}

/// The JSON `abg approvals --json` printed.
fn approvals_json(out: &Output) -> Result<Value> {
    ensure_ok(out, "abg approvals")?;
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Presses `key` until `dialog` is gone from the screen (a TUI may ignore
/// keys for a moment after showing a prompt); bounded by [`WAIT`].
async fn answer(tui: &Tui, key: &str, dialog: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        tui.press(key)?;
        let gone = tui
            .wait_until(
                &format!("{dialog:?} answered"),
                Duration::from_secs(1),
                |sc| !sc.contains(dialog),
            )
            .await;
        if gone.is_ok() {
            return Ok(());
        }
        if start.elapsed() > WAIT {
            return gone.map(|_| ());
        }
    }
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

/// The JSON of `abg approvals --json [--all]`.
fn approvals(abg: &AbgCodex, s: &Scenario, all: bool) -> Result<Value> {
    approvals_json(&abg.run_cli(&s.env.workdir, &approvals_args(all))?)
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

/// Starts the scripted turn `tag` and waits for its approval overlay and
/// pending inbox entry: the turn and the entry's id.
async fn codex_turn_pending(
    abg: &AbgCodex,
    s: &Scenario,
    mock: &MockOpenAi,
    tag: &str,
) -> Result<(CodexTurn, String)> {
    let turn = CodexTurn::new(s, tag);
    turn.push_script(mock);
    abg.tui.type_text(&turn.human).await?;
    let id = codex_pending(abg, s, &turn).await?;
    Ok((turn, id))
}

/// Waits for `turn`'s approval overlay and its pending inbox entry; its id.
async fn codex_pending(abg: &AbgCodex, s: &Scenario, turn: &CodexTurn) -> Result<String> {
    let command = format!("$ touch {}", turn.rel);
    abg.tui
        .wait_until("Codex's approval prompt", WAIT, |sc| {
            sc.contains(CODEX_APPROVAL) && sc.contains(&command)
        })
        .await?;
    let start = Instant::now();
    loop {
        let list = approvals(abg, s, false)?;
        let found = list["approvals"].as_array().and_then(|a| {
            a.iter().find(|x| {
                x["state"] == "pending"
                    && x["peer"] == "codex"
                    && x["detail"]["command"]
                        .as_str()
                        .is_some_and(|c| c.contains(&turn.rel))
            })
        });
        if let Some(found) = found {
            return Ok(found["id"].as_str().unwrap_or_default().to_string());
        }
        ensure!(
            start.elapsed() < WAIT,
            "the approval request never reached the inbox: {list:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The inbox entry `id` as it is now (`null` when there is none).
fn codex_entry(abg: &AbgCodex, s: &Scenario, id: &str) -> Result<Value> {
    let all = approvals(abg, s, true)?;
    Ok(all["approvals"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .cloned()
        .unwrap_or_default())
}

/// The inbox entry `id` once it is in `state` (bounded by [`WAIT`]).
async fn codex_entry_in(abg: &AbgCodex, s: &Scenario, id: &str, state: &str) -> Result<Value> {
    let start = Instant::now();
    loop {
        let entry = codex_entry(abg, s, id)?;
        if entry["state"] == state {
            return Ok(entry);
        }
        ensure!(
            start.elapsed() < WAIT,
            "inbox entry {id} never became {state}: {entry:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kills the pair's daemon with SIGKILL; its pid.
fn sigkill_daemon(abg: &AbgCodex) -> Result<i32> {
    let daemon = abg.pid_in("daemon.json")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    Ok(daemon)
}

/// Kills the pair's daemon with SIGKILL and waits for `abg codex` to bring
/// a new one up.
async fn kill_daemon(abg: &AbgCodex) -> Result<()> {
    let daemon = sigkill_daemon(abg)?;
    let start = Instant::now();
    loop {
        let status = abg.wait_daemon(WAIT).await?;
        if status["pid"].as_i64() != Some(i64::from(daemon)) {
            return Ok(());
        }
        ensure!(start.elapsed() < WAIT, "the daemon was not restarted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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

/// The pair's current thread as the daemon recorded it for `abg codex`
/// (id and the permission mode it was started in), once its rollout exists.
async fn recorded_thread(abg: &AbgCodex) -> Result<(String, String)> {
    let file = abg.pair_dir()?.join("codex-thread.json");
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && let (Some(id), Some(path)) = (v["thread_id"].as_str(), v["path"].as_str())
            && Path::new(path).exists()
        {
            return Ok((id.to_string(), v["mode"].as_str().unwrap_or("").to_string()));
        }
        ensure!(
            start.elapsed() < WAIT,
            "the daemon recorded no resumable thread in {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the daemon follows a thread other than `old`.
async fn new_thread(abg: &AbgCodex, old: &str) -> Result<(String, String)> {
    let start = Instant::now();
    loop {
        let (id, mode) = recorded_thread(abg).await?;
        if id != old {
            return Ok((id, mode));
        }
        ensure!(start.elapsed() < WAIT, "the daemon still follows {old}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The running TUI resumed `thread` and carries no permission flag.
fn ensure_resumed(abg: &AbgCodex, thread: &str) -> Result<()> {
    let argv = abg.tui_argv()?;
    let words: Vec<&str> = argv.split_whitespace().collect();
    ensure!(
        words.get(1) == Some(&"resume") && words.last() == Some(&thread),
        "not a resume of {thread}: {argv}"
    );
    ensure!(!argv.contains("--yolo"), "resume with --yolo: {argv}");
    Ok(())
}

/// The turn's model request carries the earlier turn `first` (same thread).
fn ensure_on_thread_of(mock: &MockOpenAi, turn: &CodexTurn, first: &str) -> Result<()> {
    ensure!(
        user_texts(&codex_turn_request(mock, &turn.human)?)
            .iter()
            .any(|t| t.contains(first)),
        "the turn {:?} is not on the thread of {first:?}",
        turn.human
    );
    Ok(())
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

// ---------------------------------------------------------------- Claude

/// The project's own Claude settings: manual approvals.
const MANUAL_PROJECT_SETTINGS: &str = r#"{"permissions": {"defaultMode": "default"}}"#;

async fn claude_setup(s: &Scenario, project_settings: Option<&str>) -> Result<MockAnthropic> {
    let mock = MockAnthropic::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("anthropic mock requests", move || log.summary(40));
    if let Some(settings) = project_settings {
        let dir = s.env.workdir.join(".claude");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("settings.json"), settings)?;
    }
    Ok(mock)
}

/// One scripted Claude turn: a Bash `touch` of a marker in the project.
struct ClaudeTurn {
    human: String,
    path: PathBuf,
    command: String,
    done: String,
}

impl ClaudeTurn {
    fn new(s: &Scenario, tag: &str) -> Self {
        let path = s.env.workdir.join(format!("abg-safe-{tag}"));
        Self {
            human: format!("please create the {tag} marker"),
            command: format!("touch {}", path.display()),
            path,
            done: format!("the {tag} marker is created"),
        }
    }

    fn push_script(&self, mock: &MockAnthropic) {
        mock.push(ClaudeStep::tool_use(
            "Bash",
            json!({"command": self.command, "description": "Create the marker file"}),
        ));
        mock.push(ClaudeStep::text(&self.done));
    }
}

/// Tool-carrying model requests received from log position `since` on.
fn claude_turn_requests(mock: &MockAnthropic, since: usize) -> usize {
    mock.requests()
        .iter()
        .skip(since)
        .filter(|r| r.path == "/v1/messages" && has_tools(&r.body))
        .count()
}

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

/// The JSON of `abg approvals --json [--all]` for the Claude pair.
fn claude_approvals(abg: &AbgClaude, all: bool) -> Result<Value> {
    approvals_json(&abg.run_cli(&approvals_args(all))?)
}

/// The inbox entry of Claude's request whose input names `needle`, once it
/// is in state `state` (bounded by [`WAIT`]).
async fn claude_entry(abg: &AbgClaude, needle: &str, state: &str) -> Result<Value> {
    let start = Instant::now();
    loop {
        let list = claude_approvals(abg, true)?;
        let entry = list["approvals"].as_array().and_then(|a| {
            a.iter()
                .find(|x| {
                    x["peer"] == "claude"
                        && x["detail"]["input_preview"]
                            .as_str()
                            .is_some_and(|p| p.contains(needle))
                })
                .cloned()
        });
        if let Some(e) = &entry
            && e["state"] == state
        {
            return Ok(e.clone());
        }
        ensure!(
            start.elapsed() < WAIT,
            "no {state} inbox entry for {needle}: {list:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the scripted turn `tag` and waits for Claude's permission dialog
/// and its pending inbox entry: the turn and the entry.
async fn claude_turn_pending(
    abg: &AbgClaude,
    s: &Scenario,
    mock: &MockAnthropic,
    tag: &str,
) -> Result<(ClaudeTurn, Value)> {
    let turn = ClaudeTurn::new(s, tag);
    turn.push_script(mock);
    abg.tui.type_text(&turn.human).await?;
    abg.tui
        .wait_until(&format!("Claude's permission dialog ({tag})"), WAIT, |sc| {
            sc.contains(CLAUDE_DIALOG) && sc.contains(&turn.command)
        })
        .await?;
    let entry = claude_entry(abg, &turn.command, "pending").await?;
    Ok((turn, entry))
}

/// What the model was told about tool call results, in order (the
/// `tool_result` blocks of every request, once per tool call).
fn claude_tool_results(mock: &MockAnthropic) -> Vec<Value> {
    let mut seen = Vec::new();
    for r in mock.requests() {
        let Some(msgs) = r.body["messages"].as_array() else {
            continue;
        };
        for m in msgs {
            for b in m["content"].as_array().into_iter().flatten() {
                if b["type"] == "tool_result"
                    && !seen
                        .iter()
                        .any(|x: &Value| x["tool_use_id"] == b["tool_use_id"])
                {
                    seen.push(b.clone());
                }
            }
        }
    }
    seen
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
