//! End-to-end: the quota relay (issue 7) against the real pinned CLIs.
//!
//! - Codex: `abg codex` in the tmux driver; the mock Responses API sends
//!   `x-codex-primary-*` headers climbing across turns (60 % → 96 % of a
//!   300-minute window whose reset is a few seconds ahead). Codex turns them
//!   into `account/rateLimits/updated`; `abg budget --json` shows the climb;
//!   the climb past `budget.pause_at` holds a message sent to Codex (its
//!   sender is told `budget_paused`), the checkpoint request reaches Codex's
//!   model once, and when the reset time passes the relay's tick resumes
//!   Codex: exactly one resume turn, then the held message. Again with the
//!   daemon SIGKILLed and restarted (`abg status`) between pause and reset.
//! - Claude: `abg claude` with the test-only token auth (`claude-code.md`
//!   §14); the mock's `anthropic-ratelimit-unified-*` headers reach
//!   `abg statusline` as `rate_limits`; the climb pauses relay to Claude and
//!   its model gets the checkpoint + hand-off request; Claude's scripted
//!   `mcp__abg__reply` stores the hand-off message for Codex.
//!
//! Skipped (one line) when the pinned CLIs are absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use serde_json::json;

use support::abg_claude::{last_user_texts, times_delivered};
use support::abg_codex::{AbgCodex, alive};
use support::budget::{
    TokenClaude, abg_json, claude_headers, codex_headers, epoch_ms, five_hour_pct, positions,
    quota_paused, unix_now, wait_budget, write_user_config,
};
use support::clis::Need;
use support::env::CodexSeed;
use support::mock_anthropic::{self, MockAnthropic};
use support::mock_openai::{MockOpenAi, Step, is_title_request, last_user_text};
use support::recorder::RecordedRequest;
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

/// Thresholds for the run (the defaults are 95 / 50); stale_secs is its
/// minimum range end well above the test's length.
const CONFIG: &str = "[budget]\npause_at = 90\nresume_below = 50\nstale_secs = 600\n";
/// Text of the relay's checkpoint request (`budget::relay`).
const CHECKPOINT_ASK: &str = "Write a checkpoint to .abg/checkpoint.md";
/// Text of the relay's resume prompt.
const RESUME_ASK: &str = "Resume the task from .abg/checkpoint.md";
/// The message the test sends to Codex while it is paused.
const HELD: &str = "sent while codex is paused";

#[test]
fn codex_quota_wall_pauses_checkpoints_and_resumes_once() {
    scenario::run("budget_codex", Need::Codex, |s| codex_wall(s, false));
}

#[test]
fn codex_quota_resume_is_once_across_a_daemon_restart() {
    scenario::run("budget_codex_restart", Need::Codex, |s| codex_wall(s, true));
}

/// Model turn requests (not title ones) whose last user text has `needle`.
fn codex_turns_with(log: &[RecordedRequest], needle: &str) -> Vec<usize> {
    positions(log, |r| {
        r.path == "/v1/responses"
            && !is_title_request(&r.body)
            && last_user_text(&r.body).is_some_and(|t| t.contains(needle))
    })
}

/// A message from Claude to Codex, delivered as a turn (queued behind a
/// running one if need be); waits for that turn to complete.
async fn turn(abg: &AbgCodex, body: &str) -> Result<()> {
    let sent = abg.send(body, None, 20_000).await?;
    let code = sent["outcome"]["code"].as_str().unwrap_or_default();
    ensure!(code == "delivered" || code == "queued", "{body:?}: {sent}");
    let id = sent["message_id"].as_str().context("no id")?.to_string();
    abg.wait_message("the turn to complete", WAIT, |m| {
        m["id"] == id.as_str() && m["state"] == "completed"
    })
    .await?;
    Ok(())
}

async fn codex_wall(s: Scenario, restart: bool) -> Result<()> {
    write_user_config(&s, CONFIG)?;
    let mock = MockOpenAi::start().await?;
    let mock_t0 = epoch_ms();
    let log = mock.log().clone();
    s.diag
        .add_source("openai mock requests", move || log.summary(40));
    s.env.seed_codex(&mock.base_url(), &CodexSeed::default())?;
    let abg = AbgCodex::start(&s, &[]).await?;
    let result = codex_steps(&s, &mock, mock_t0, &abg, restart).await;
    abg.shutdown().await?;
    result
}

async fn codex_steps(
    s: &Scenario,
    mock: &MockOpenAi,
    mock_t0: i64,
    abg: &AbgCodex,
    restart: bool,
) -> Result<()> {
    let t0 = Instant::now();
    let cwd = s.env.workdir.clone();
    // The window resets this far ahead: room for the climb, the checkpoint
    // turn, the held message (and a daemon restart) before it.
    let reset = unix_now() + if restart { 30 } else { 20 };

    // A human turn starts the thread. Its reading may be missed: Codex
    // sends `account/rateLimits/updated` to the thread's subscribers, and
    // the daemon can subscribe only once the thread has a rollout.
    mock.push(Step::text("thread started").headers(codex_headers(55.0, reset)));
    abg.tui.type_text("begin the long task").await?;
    mock.wait_for_user_text("begin the long task", WAIT).await?;
    // A turn at 60 %: the reading lands, nothing pauses.
    mock.push(Step::text("working at 60 percent").headers(codex_headers(60.0, reset)));
    turn(abg, "first step of the task").await?;
    let r = wait_budget(&abg.env, &cwd, "codex five_hour at 60 %", WAIT, |v| {
        five_hour_pct(v, "codex") == Some(60.0)
    })
    .await?;
    ensure!(r["codex"]["paused"].is_null(), "paused at 60 %: {r:#}");
    ensure!(
        r["codex"]["five_hour"]["resets_at"] == json!(reset),
        "reset time: {r:#}"
    );

    // Climb to 96 % (past pause_at 90) on a turn Claude starts.
    mock.push(Step::text("working at 96 percent").headers(codex_headers(96.0, reset)));
    // The checkpoint turn still reports 96 %.
    mock.push(Step::text("checkpoint written").headers(codex_headers(96.0, reset)));
    // After the reset the window is nearly empty again.
    let next = reset + 5 * 3600;
    mock.push(Step::text("resumed from the checkpoint").headers(codex_headers(3.0, next)));
    mock.push(Step::text("handled the held message").headers(codex_headers(4.0, next)));
    turn(abg, "keep going with the task").await?;
    let r = wait_budget(&abg.env, &cwd, "codex paused at 96 %", WAIT, |v| {
        five_hour_pct(v, "codex") == Some(96.0) && quota_paused(v, "codex")
    })
    .await?;
    ensure!(
        r["codex"]["paused"]["window"] == "five_hour" && r["claude"]["paused"].is_null(),
        "pause: {r:#}"
    );
    let pause_ms = t0.elapsed().as_millis();

    // The checkpoint request reaches the model (at the turn boundary).
    let req = mock.wait_for_user_text(CHECKPOINT_ASK, WAIT).await?;
    let text = last_user_text(&req.body).unwrap_or_default();
    ensure!(
        text.starts_with("[abg notice] abg quota relay: your 5-hour window is at 96%"),
        "checkpoint request text: {text:?}"
    );
    // Claude was told to continue solo.
    abg.wait_message("the solo notice to claude", WAIT, |m| {
        m["from"] == "abg"
            && m["to"] == "claude"
            && m["body"]
                .as_str()
                .is_some_and(|b| b.contains("Continue the task on your own"))
    })
    .await?;

    // A message to Codex is held; its sender hears budget_paused.
    let held = abg.send(HELD, None, 5_000).await?;
    ensure!(
        held["outcome"]["code"] == "held"
            && held["outcome"]["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("budget_paused") && r.contains("resets at")),
        "send while paused: {held}"
    );
    let held_id = held["message_id"].as_str().context("no id")?.to_string();

    if restart {
        let status = abg_json(&abg.env, &cwd, &["status", "--json"])?;
        let old = status["pid"].as_i64().context("pid in abg status")?;
        let old = i32::try_from(old)?;
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(old),
            nix::sys::signal::Signal::SIGKILL,
        )?;
        let end = Instant::now() + WAIT;
        while alive(old) {
            ensure!(Instant::now() < end, "the killed daemon is still alive");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let status = abg_json(&abg.env, &cwd, &["status", "--json"])?;
        ensure!(
            status["pid"].as_i64().is_some_and(|p| p != i64::from(old)),
            "no new daemon: {status}"
        );
        let r = abg_json(&abg.env, &cwd, &["budget", "--json"])?;
        ensure!(
            quota_paused(&r, "codex") && r["codex"]["paused"]["checkpoint_requested"] == true,
            "the pause did not survive the restart: {r:#}"
        );
        announce(&format!(
            "budget e2e: daemon {old} killed, {} at {:.1} s",
            if status["spawned"] == true {
                "restarted by abg status"
            } else {
                "already restarted by abg codex"
            },
            t0.elapsed().as_secs_f64()
        ));
    }
    ensure!(
        unix_now() < reset,
        "the scripted reset passed before the pause was fully set up; widen it"
    );
    ensure!(
        codex_turns_with(&mock.requests(), HELD).is_empty(),
        "the held message reached the model while paused"
    );

    // The reset passes: the relay (on its tick) resumes Codex once.
    let req = mock
        .wait_for_user_text(RESUME_ASK, Duration::from_secs(reset - unix_now()) + WAIT)
        .await?;
    let resumed_ms = mock_t0 + i64::try_from(req.at.as_millis())?;
    ensure!(
        resumed_ms >= i64::try_from(reset)? * 1000,
        "resumed before the reset ({resumed_ms} < {reset}000)"
    );
    mock.wait_for_user_text(&format!("[from Claude] {HELD}"), WAIT)
        .await?;
    abg.wait_message("the held message completed", WAIT, |m| {
        m["id"] == held_id.as_str() && m["state"] == "completed"
    })
    .await?;
    wait_budget(&abg.env, &cwd, "codex no longer paused", WAIT, |v| {
        v["codex"]["paused"].is_null()
    })
    .await?;
    // Let any duplicate land before counting.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let log = mock.requests();
    let (ck, rs, hd) = (
        codex_turns_with(&log, CHECKPOINT_ASK),
        codex_turns_with(&log, RESUME_ASK),
        codex_turns_with(&log, HELD),
    );
    ensure!(ck.len() == 1, "checkpoint requests: {ck:?}");
    ensure!(rs.len() == 1, "resume turns: {rs:?}");
    ensure!(hd.len() == 1, "held message deliveries: {hd:?}");
    ensure!(
        ck[0] < rs[0] && rs[0] < hd[0],
        "order: checkpoint {ck:?}, resume {rs:?}, held {hd:?}"
    );
    let r = abg_json(&abg.env, &cwd, &["budget", "--json"])?;
    // Not paused again: the post-reset turns reported the emptied window.
    ensure!(
        r["codex"]["paused"].is_null() && five_hour_pct(&r, "codex").is_some_and(|p| p < 50.0),
        "after the resume: {r:#}"
    );
    announce(&format!(
        "budget e2e codex (restart: {restart}): paused at {pause_ms} ms, resumed {:.1} s after the reset, done at {:.1} s",
        (resumed_ms - i64::try_from(reset)? * 1000) as f64 / 1000.0,
        t0.elapsed().as_secs_f64()
    ));
    Ok(())
}

#[test]
fn claude_quota_wall_pauses_relay_and_hands_off_to_codex() {
    scenario::run("budget_claude", Need::Claude, claude_wall);
}

/// The relay's hand-off instruction to Claude (`budget::relay`).
const HANDOFF_ASK: &str = "Then hand the task to Codex with ONE message";
/// What Claude's scripted hand-off says.
const HANDOFF: &str = "hand-off: my checkpoint is in .abg/checkpoint.md, please take over";

fn near(x: Option<f64>, want: f64) -> bool {
    x.is_some_and(|x| (x - want).abs() < 0.6)
}

async fn claude_wall(s: Scenario) -> Result<()> {
    write_user_config(&s, CONFIG)?;
    let mock = MockAnthropic::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("anthropic mock requests", move || log.summary(40));
    let t0 = Instant::now();
    let reset = unix_now() + 3600;
    // Every answer carries the account's current figures, as the API does.
    mock.set_default_headers(claude_headers(0.4, reset));
    let claude = TokenClaude::start(&s, &mock, &[]).await?;
    let (env, cwd) = (claude.env.clone(), claude.workdir.clone());
    let start_ms = t0.elapsed().as_millis();

    // One model turn: `abg statusline` (run by Claude) records the windows.
    mock.push(mock_anthropic::Step::text("working at 40 percent"));
    claude.tui.type_text("begin the long task").await?;
    claude.tui.wait_for("working at 40 percent", WAIT).await?;
    let r = wait_budget(&env, &cwd, "claude five_hour at 40 %", WAIT, |v| {
        near(five_hour_pct(v, "claude"), 40.0)
    })
    .await?;
    ensure!(
        r["claude"]["status"] == "ok"
            && r["claude"]["five_hour"]["resets_at"] == json!(reset)
            && near(r["claude"]["weekly"]["used_pct"].as_f64(), 10.0)
            && r["claude"]["paused"].is_null(),
        "after one turn: {r:#}"
    );
    let first_ms = t0.elapsed().as_millis();
    // It was the token auth: a bearer token, no API key.
    let turn = mock.wait_for_turn_since(0, WAIT).await?;
    ensure!(
        turn.header("authorization")
            .is_some_and(|a| a.starts_with("Bearer ey"))
            && turn.header("x-api-key").is_none(),
        "auth headers: {:?}",
        turn.headers
    );

    // Climb past pause_at: relay to Claude pauses; Claude is asked for a
    // checkpoint and a hand-off, which its scripted turn sends.
    mock.set_default_headers(claude_headers(0.96, reset));
    mock.push(mock_anthropic::Step::text("working at 96 percent"));
    mock.push(mock_anthropic::Step::tool_use(
        "mcp__abg__reply",
        json!({ "text": HANDOFF }),
    ));
    mock.push(mock_anthropic::Step::text("handed off to codex"));
    claude.tui.type_text("keep going").await?;
    let r = wait_budget(&env, &cwd, "claude paused at 96 %", WAIT, |v| {
        near(five_hour_pct(v, "claude"), 96.0) && quota_paused(v, "claude")
    })
    .await?;
    ensure!(
        r["claude"]["paused"]["checkpoint_requested"] == true && r["codex"]["paused"].is_null(),
        "pause: {r:#}"
    );
    let req = mock
        .wait_for_request("the checkpoint + hand-off request", WAIT, |r| {
            r.path == "/v1/messages"
                && mock_anthropic::has_tools(&r.body)
                && last_user_texts(&r.body).contains(HANDOFF_ASK)
        })
        .await?;
    let text = last_user_texts(&req.body);
    ensure!(
        text.contains("abg quota relay: your 5-hour window is at 96%")
            && text.contains(".abg/checkpoint.md"),
        "checkpoint request: {text}"
    );
    let handoff = claude
        .wait_message("the hand-off stored for codex", |m| {
            m["from"] == "claude" && m["to"] == "codex" && m["body"] == HANDOFF
        })
        .await?;
    claude.tui.wait_for("handed off to codex", WAIT).await?;

    // While paused, a message from Codex is held, never reaching the model.
    let id = claude
        .inject("codex", "claude", "are you still there?")
        .await?;
    let held = claude
        .wait_message("the message to claude held", |m| {
            m["id"] == id.as_str() && m["state"] == "held"
        })
        .await?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    ensure!(
        times_delivered(&mock, "are you still there?") == 0,
        "a message reached Claude while it was paused: {held}"
    );
    ensure!(
        times_delivered(&mock, HANDOFF_ASK) == 1,
        "the checkpoint request reached the model more than once"
    );
    let handoffs = claude
        .messages()
        .await?
        .iter()
        .filter(|m| m["from"] == "claude" && m["to"] == "codex")
        .count();
    ensure!(handoffs == 1, "hand-offs stored: {handoffs} ({handoff})");
    announce(&format!(
        "budget e2e claude: prompt at {start_ms} ms, first reading at {first_ms} ms, paused and handed off at {:.1} s",
        t0.elapsed().as_secs_f64()
    ));
    drop(claude);
    Ok(())
}
