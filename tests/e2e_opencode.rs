//! End-to-end: `abg opencode` with the real pinned OpenCode (1.18.33)
//! against the mock Chat Completions API.
//!
//! `abg opencode` runs in the tmux driver with its own daemon and
//! `opencode serve`; the test plays the human through the terminal and
//! `abg send`, and Claude through the control plane. It checks that a
//! message sent with `abg send --to opencode` while the human's turn runs
//! is delivered once, after that turn, and its answer stored once; and
//! that an idle OpenCode given five messages in a row runs each exactly
//! once and each answer is stored once, for its sender; and that the
//! server is on the pair's port behind its password, allowing every tool
//! unless `--safe`, with the TUI attached to the pair's session and no
//! password on any command line; that a killed daemon's server does not
//! outlive it; and that when the human starts a new
//! session in the TUI and types there, the pair follows, and the next
//! peer message lands in that session. (Its permission requests in the
//! approvals inbox: `tests/e2e_opencode_inbox.rs`.) Skipped (one
//! line) when the pinned CLI is absent; a hard failure with
//! `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use support::abg_codex::alive;
use support::abg_opencode::{AbgOpenCode, answers_with, wait_answer};
use support::clis::Need;
use support::mock_chat::ChatStep;
use support::opencode::{BOOT, start_mock};
use support::scenario::{self, Scenario};

const WAIT: Duration = Duration::from_secs(60);

#[test]
fn abg_opencode_takes_a_message_sent_mid_turn_once() {
    scenario::run("abg_opencode_mid_turn", Need::OpenCode, mid_turn);
}

async fn mid_turn(s: Scenario) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgOpenCode::start(&s, &mock).await?;
    // Without --safe the server allows every tool.
    let config = abg.server_config().await?;
    ensure!(config["permission"] == json!({"*": "allow"}), "{config}");
    // The human's turn stalls in the model, so the message arrives mid-turn.
    mock.push(ChatStep::text("the human's slow answer").delay(Duration::from_secs(5)));
    abg.tui.type_text("hello from the human").await?;
    mock.wait_for_user_text("hello from the human", WAIT)
        .await?;
    let out = abg.run_cli(
        &s.env.workdir,
        &["send", "--to", "opencode", "--json", "ping from abg send"],
    )?;
    ensure!(
        out.status.success(),
        "abg send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sent: Value = serde_json::from_slice(&out.stdout)?;
    let id = sent[0]["message_id"]
        .as_str()
        .context("message id")?
        .to_string();
    let control = abg.control()?;
    // Delivered after the human's turn, as its own turn, framed.
    let req = mock
        .wait_for_user_text("[from the human, via abg] ping from abg send", WAIT)
        .await?;
    // It waited for the human's turn to end: that answer precedes it.
    let answered_first = req.body["messages"].as_array().is_some_and(|m| {
        m.iter()
            .any(|m| m["role"] == "assistant" && m.to_string().contains("the human's slow answer"))
    });
    ensure!(
        answered_first,
        "the message did not wait for the running turn: {}",
        req.body
    );
    let texts = support::mock_chat::user_texts(&req.body);
    ensure!(
        texts.iter().any(|t| t.contains("hello from the human")),
        "the human's turn is not in the context: {texts:?}"
    );
    control
        .wait_message("the sent message's turn to complete", WAIT, |m| {
            m["id"] == id.as_str() && m["state"] == "completed"
        })
        .await?;
    let answer = wait_answer(&control, "OpenCode's answer", WAIT, "ping from abg send").await?;
    ensure!(
        answer["to"] == "claude",
        "the human's message's answer goes to Claude: {answer}"
    );
    // The human's own turn was answered (and relayed) once as well.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let msgs = control.messages().await?;
    let n = answers_with(&msgs, "ping from abg send").len();
    ensure!(n == 1, "the answer was stored {n} times: {msgs:#?}");
    let n = answers_with(&msgs, "the human's slow answer").len();
    ensure!(
        n == 1,
        "the human turn's answer was stored {n} times: {msgs:#?}"
    );
    let turns = mock.turns_with("ping from abg send").len();
    ensure!(turns == 1, "the message ran {turns} model turns");
    // The TUI shows it.
    abg.tui
        .wait_for("ping from abg send", Duration::from_secs(20))
        .await?;
    abg.shutdown(&s).await
}

#[test]
fn abg_opencode_runs_five_messages_in_a_row_once_each() {
    scenario::run("abg_opencode_five", Need::OpenCode, five_in_a_row);
}

async fn five_in_a_row(s: Scenario) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgOpenCode::start(&s, &mock).await?;
    let control = abg.control()?;
    let mut ids = Vec::new();
    for i in 1..=5 {
        ids.push(
            control
                .inject("claude", "opencode", &format!("burst message {i}"))
                .await?,
        );
    }
    for (i, id) in ids.iter().enumerate() {
        control
            .wait_message(&format!("burst message {} to complete", i + 1), BOOT, |m| {
                m["id"] == id.as_str() && m["state"] == "completed"
            })
            .await?;
    }
    let end = Instant::now() + WAIT;
    loop {
        let msgs = control.messages().await?;
        let counts: Vec<usize> = (1..=5)
            .map(|i| answers_with(&msgs, &format!("burst message {i}")).len())
            .collect();
        if counts.iter().all(|n| *n == 1) {
            for i in 1..=5 {
                let a = answers_with(&msgs, &format!("burst message {i}"))[0];
                ensure!(
                    a["to"] == "claude",
                    "answer {i} goes back to its sender: {a}"
                );
            }
            break;
        }
        if counts.iter().any(|n| *n > 1) || Instant::now() >= end {
            bail!("answers per message: {counts:?}; store: {msgs:#?}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for i in 1..=5 {
        let needle = format!("[from Claude] burst message {i}");
        let n = mock.turns_with(&needle).len();
        ensure!(n == 1, "message {i} ran {n} model turns");
        // Each prompt once in the context of the last turn (never doubled).
        let last = mock.turns_with("[from Claude] burst message 5");
        let copies = support::mock_chat::user_texts(&last[0])
            .iter()
            .filter(|t| t.contains(&needle))
            .count();
        ensure!(
            copies == 1,
            "message {i} appears {copies} times in the context"
        );
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let msgs = control.messages().await?;
    for i in 1..=5 {
        let n = answers_with(&msgs, &format!("burst message {i}")).len();
        ensure!(n == 1, "answer {i} stored {n} times");
    }
    abg.shutdown(&s).await
}

#[test]
fn abg_opencode_safe_keeps_opencodes_permission_prompts() {
    scenario::run("abg_opencode_safe", Need::OpenCode, safe);
}

async fn safe(s: Scenario) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgOpenCode::start_with(&s, &mock, &["--safe"]).await?;
    let config = abg.server_config().await?;
    ensure!(
        config
            .get("permission")
            .is_none_or(|p| p.get("*").is_none()),
        "--safe must add no permission: {config}"
    );
    // The TUI is the real one, attached to the pair's session.
    let dir = abg.pair_dir()?;
    let session = std::fs::read_to_string(dir.join("opencode-session"))?;
    let argv = support::procs::referencing(&s.env.root)
        .into_iter()
        .map(|p| p.cmdline)
        .find(|c| c.contains(" attach "))
        .context("no opencode attach process")?;
    ensure!(
        argv.contains(&format!("--session {}", session.trim())),
        "{argv}"
    );
    let password = std::fs::read_to_string(dir.join("opencode.password"))?;
    ensure!(
        !argv.contains(password.trim()),
        "the password is on the command line: {argv}"
    );
    abg.shutdown(&s).await
}

#[test]
fn abg_opencode_survives_a_killed_daemon_without_duplicates() {
    scenario::run("abg_opencode_daemon_killed", Need::OpenCode, daemon_killed);
}

async fn daemon_killed(s: Scenario) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgOpenCode::start(&s, &mock).await?;
    let control = abg.control()?;
    control
        .inject("claude", "opencode", "before the crash")
        .await?;
    wait_answer(&control, "the first answer", WAIT, "before the crash").await?;
    let (daemon, server) = (
        abg.pid_in("daemon.json")?,
        abg.pid_in("opencode-server.json")?,
    );
    let first_tui = support::procs::referencing(&s.env.root)
        .into_iter()
        .find(|p| p.cmdline.contains(" attach "))
        .map(|p| p.pid)
        .context("no opencode attach process")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    // `abg opencode` brings the daemon back; it replaces the server the
    // killed one left and keeps the pair's session.
    let end = Instant::now() + BOOT;
    loop {
        let now = abg.pid_in("opencode-server.json").ok();
        if now.is_some_and(|p| p != server && alive(p)) && !alive(server) {
            break;
        }
        if Instant::now() >= end {
            bail!("the server was not replaced (old {server}, now {now:?})");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let control = abg.control()?;
    control
        .inject("claude", "opencode", "after the crash")
        .await?;
    wait_answer(&control, "the second answer", BOOT, "after the crash").await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let msgs = control.messages().await?;
    for needle in ["before the crash", "after the crash"] {
        let n = answers_with(&msgs, needle).len();
        ensure!(n == 1, "the answer to {needle:?} was stored {n} times");
        let turns = mock.turns_with(needle).len();
        ensure!(turns == 1, "{needle:?} ran {turns} model turns");
    }
    // The TUI was attached again to the new server (a new process) and
    // shows the post-crash turn in the pair's session.
    abg.tui
        .wait_for("after the crash", Duration::from_secs(30))
        .await?;
    let attach: Vec<i32> = support::procs::referencing(&s.env.root)
        .into_iter()
        .filter(|p| p.cmdline.contains(" attach "))
        .map(|p| p.pid)
        .collect();
    ensure!(
        attach.len() == 1 && attach[0] != first_tui,
        "one new TUI process expected, not {attach:?} (first {first_tui})"
    );
    // The same session: the second turn's context holds the first.
    let second = mock.turns_with("after the crash");
    let texts = support::mock_chat::user_texts(&second[0]);
    ensure!(
        texts.iter().any(|t| t.contains("before the crash")),
        "the session was not kept: {texts:?}"
    );
    abg.shutdown(&s).await
}

#[test]
fn abg_opencode_follows_the_human_to_a_new_session() {
    scenario::run("abg_opencode_follow", Need::OpenCode, follow);
}

/// The human starts a new session in the TUI (`/new`) and types there:
/// the pair follows (the session file and store name it, an
/// `opencode.session.followed` event says so), and the next message from a
/// peer is a prompt in the new session, with none of the old one's
/// context, answered once.
async fn follow(s: Scenario) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgOpenCode::start(&s, &mock).await?;
    let control = abg.control()?;
    let session_file = abg.pair_dir()?.join("opencode-session");
    let first = std::fs::read_to_string(&session_file)?;
    abg.tui.type_text("hello in the first session").await?;
    wait_answer(
        &control,
        "the first session's answer",
        WAIT,
        "hello in the first session",
    )
    .await?;
    abg.tui.type_text("/new").await?;
    // The new session's empty view (typing earlier could land in the old one).
    abg.tui
        .wait_gone("hello in the first session", WAIT)
        .await?;
    abg.tui.type_text("hello in the second session").await?;
    let req = mock
        .wait_for_user_text("hello in the second session", WAIT)
        .await?;
    ensure!(
        !req.body.to_string().contains("hello in the first session"),
        "the human's second prompt went to the first session: {}",
        req.body
    );
    let start = Instant::now();
    let second = loop {
        let now = std::fs::read_to_string(&session_file)?;
        if now != first {
            break now;
        }
        ensure!(start.elapsed() < WAIT, "the pair never followed the human");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let (events, saved) = {
        let store = abg::store::Store::open(&abg.pair_dir()?.join("store.sqlite"))?;
        let saved: Option<String> = store.get_setting(abg::opencode::link::SESSION_SETTING)?;
        (store.events_after(0, 10_000)?, saved)
    };
    ensure!(
        saved.as_deref() == Some(second.trim()),
        "the store names {saved:?}"
    );
    ensure!(
        events.iter().any(|e| e.kind == "opencode.session.followed"
            && e.data["from"] == first.trim()
            && e.data["to"] == second.trim()),
        "no opencode.session.followed event: {events:#?}"
    );
    // A peer's message now lands in the session the human sees.
    let out = abg.run_cli(
        &s.env.workdir,
        &["send", "--to", "opencode", "ping after the switch"],
    )?;
    ensure!(
        out.status.success(),
        "abg send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let req = mock
        .wait_for_user_text("[from the human, via abg] ping after the switch", WAIT)
        .await?;
    let context = req.body.to_string();
    ensure!(
        context.contains("hello in the second session")
            && !context.contains("hello in the first session"),
        "the message did not go to the human's new session: {context}"
    );
    abg.tui
        .wait_for("ping after the switch", Duration::from_secs(20))
        .await?;
    wait_answer(
        &control,
        "the answer in the new session",
        WAIT,
        "ping after the switch",
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let msgs = control.messages().await?;
    let n = answers_with(&msgs, "ping after the switch").len();
    ensure!(n == 1, "the answer was stored {n} times: {msgs:#?}");
    abg.shutdown(&s).await
}

#[test]
fn abg_opencode_server_ends_with_a_killed_daemon() {
    scenario::run("abg_opencode_no_orphan", Need::OpenCode, no_orphan);
}

/// A daemon killed with nobody to bring it back (`abg kill`'s sentinel
/// holds `abg opencode` off): its OpenCode server does not outlive it.
async fn no_orphan(s: Scenario) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgOpenCode::start(&s, &mock).await?;
    let (daemon, server) = (
        abg.pid_in("daemon.json")?,
        abg.pid_in("opencode-server.json")?,
    );
    std::fs::write(
        abg.pair_dir()?.join("killed"),
        "held down by the e2e test\n",
    )?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let end = Instant::now() + Duration::from_secs(10);
    while alive(server) {
        ensure!(
            Instant::now() < end,
            "the OpenCode server {server} outlived its killed daemon {daemon}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    ensure!(!alive(daemon), "the daemon lives on");
    abg.shutdown(&s).await
}
