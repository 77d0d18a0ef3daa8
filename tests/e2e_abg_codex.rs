//! End-to-end: `abg codex` with the real pinned Codex against the mock
//! Responses API (issue 4's acceptance list).
//!
//! `abg codex` runs in the tmux driver with its own daemon and app-server;
//! the test plays Claude through the control plane and the human through
//! the terminal. Skipped (one line) when the pinned CLI is absent; a hard
//! failure with `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use support::WAIT;
use support::abg_codex::{AbgCodex, alive};
use support::app_server::upgrade_status;
use support::clis::Need;
use support::env::CodexSeed;
use support::mock_openai::{MockOpenAi, Step, is_title_request, last_user_text, user_texts};
use support::scenario::{self, Scenario};

async fn setup(s: &Scenario) -> Result<(MockOpenAi, AbgCodex)> {
    let mock = MockOpenAi::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("openai mock requests", move || log.summary(40));
    s.env.seed_codex(&mock.base_url(), &CodexSeed::default())?;
    let abg = AbgCodex::start(s, &[]).await?;
    Ok((mock, abg))
}

/// A human turn in the TUI, so the pair has a thread.
async fn human_turn(mock: &MockOpenAi, abg: &AbgCodex, text: &str) -> Result<()> {
    abg.tui.type_text(text).await?;
    mock.wait_for_user_text(text, WAIT).await?;
    Ok(())
}

/// Waits until the message `sent` has finished its turn.
async fn wait_completed(abg: &AbgCodex, sent: &Value) -> Result<()> {
    let id = sent["message_id"]
        .as_str()
        .context("no message id")?
        .to_string();
    abg.wait_message("the turn to complete", WAIT, |m| {
        m["id"] == id.as_str() && m["state"] == "completed"
    })
    .await
    .map(|_| ())
}

/// The project dir `abg codex` runs in (its tmux pane's cwd).
fn s_workdir(abg: &AbgCodex) -> Result<std::path::PathBuf> {
    Ok(abg.state_dir.parent().context("no root")?.join("work"))
}

fn outcome(sent: &Value) -> (&str, &str) {
    (
        sent["outcome"]["code"].as_str().unwrap_or_default(),
        sent["outcome"]["turn_id"].as_str().unwrap_or_default(),
    )
}

/// Requests (not title ones) whose last user text contains `needle`.
fn requests_with(mock: &MockOpenAi, needle: &str) -> Vec<Value> {
    mock.requests()
        .into_iter()
        .filter(|r| r.path == "/v1/responses" && !is_title_request(&r.body))
        .filter(|r| last_user_text(&r.body).is_some_and(|t| t.contains(needle)))
        .map(|r| r.body)
        .collect()
}

#[test]
fn abg_codex_relays_turns_both_ways() {
    scenario::run("abg_codex_relay", Need::Codex, relay);
}

async fn relay(s: Scenario) -> Result<()> {
    let (mock, abg) = setup(&s).await?;
    let result = relay_steps(&mock, &abg).await;
    abg.shutdown().await?;
    result
}

async fn relay_steps(mock: &MockOpenAi, abg: &AbgCodex) -> Result<()> {
    // An unauthenticated (or wrongly authenticated) client is refused.
    ensure!(
        upgrade_status(abg.app_port(), None).await? == 401,
        "no token: not 401"
    );
    ensure!(
        upgrade_status(abg.app_port(), Some("wrong")).await? == 401,
        "wrong token: not 401"
    );

    // A second `abg codex` for the pair is refused, naming where it runs.
    let second = abg.run_cli(&s_workdir(abg)?, &["codex"])?;
    let err = String::from_utf8_lossy(&second.stderr);
    ensure!(
        !second.status.success() && err.contains("already runs") && err.contains("pid"),
        "second abg codex: {:?} {err}",
        second.status
    );

    // Human turn → its agent message lands in the store, addressed to Claude.
    mock.push(Step::text("reply to the human turn").chunks(2));
    human_turn(mock, abg, "hello from the human").await?;
    abg.tui.wait_for("reply to the human turn", WAIT).await?;
    let stored = abg
        .wait_message("codex's reply stored for claude", WAIT, |m| {
            m["from"] == "codex" && m["to"] == "claude" && m["body"] == "reply to the human turn"
        })
        .await?;
    ensure!(stored["state"] == "stored", "unexpected state: {stored}");
    abg.wait_turn_idle(WAIT).await?;

    // Idle: a control-plane message becomes a new turn, renders, mock saw it.
    let sent = abg.send("first message while idle", None, 20_000).await?;
    let (code, turn) = outcome(&sent);
    ensure!(code == "delivered" && !turn.is_empty(), "idle send: {sent}");
    mock.wait_for_user_text("[from Claude] first message while idle", WAIT)
        .await?;
    abg.tui.wait_for("first message while idle", WAIT).await?;
    wait_completed(abg, &sent).await?;
    abg.wait_message("reply to the injected turn", WAIT, |m| {
        m["from"] == "codex"
            && m["body"]
                .as_str()
                .is_some_and(|b| b.ends_with("first message while idle"))
    })
    .await?;

    // Queue: delivered right after a slow turn.
    mock.push(Step::text("slow answer A").delay(Duration::from_secs(3)));
    let a = abg.send("slow turn A", None, 20_000).await?;
    mock.wait_for_user_text("slow turn A", WAIT).await?;
    let q = abg.send("queued behind A", Some("queue"), 10_000).await?;
    ensure!(outcome(&q).0 == "queued", "queue while busy: {q}");
    let req = mock.wait_for_user_text("queued behind A", WAIT).await?;
    ensure!(
        user_texts(&req.body)
            .iter()
            .any(|t| t.contains("slow answer A") || t.contains("slow turn A")),
        "the queued message did not follow turn A"
    );
    ensure!(!outcome(&a).1.is_empty(), "turn A has no turn id: {a}");

    wait_completed(abg, &q).await?;

    // Steer: lands inside the running turn (same turn, follow-up request).
    mock.push(Step::text("slow answer B").delay(Duration::from_secs(4)));
    mock.push(Step::text("answer after the steer"));
    let b = abg.send("slow turn B", None, 20_000).await?;
    mock.wait_for_user_text("slow turn B", WAIT).await?;
    let st = abg.send("steer into B", Some("steer"), 10_000).await?;
    let (code, turn) = outcome(&st);
    ensure!(code == "steered", "steer: {st}");
    ensure!(
        turn == outcome(&b).1,
        "steered into {turn}, B was {}",
        outcome(&b).1
    );
    let req = mock.wait_for_user_text("steer into B", WAIT).await?;
    let texts = user_texts(&req.body);
    ensure!(
        texts.iter().any(|t| t.contains("slow turn B")),
        "the steer request does not carry turn B's message: {texts:?}"
    );
    abg.tui.wait_for("answer after the steer", WAIT).await?;

    wait_completed(abg, &st).await?;

    // Interrupt: ends the running turn and starts a new one.
    mock.push(Step::text("never finished C").delay(Duration::from_secs(10)));
    let c = abg.send("slow turn C", None, 20_000).await?;
    mock.wait_for_user_text("slow turn C", WAIT).await?;
    let started = std::time::Instant::now();
    let i = abg.send("interrupt C", Some("interrupt"), 20_000).await?;
    let (code, turn) = outcome(&i);
    ensure!(code == "interrupted", "interrupt: {i}");
    ensure!(
        !turn.is_empty() && turn != outcome(&c).1,
        "interrupt did not start a new turn: {i} vs {c}"
    );
    ensure!(
        started.elapsed() < Duration::from_secs(9),
        "the interrupt waited for the slow turn to finish"
    );
    mock.wait_for_user_text("interrupt C", WAIT).await?;
    ensure!(
        requests_with(mock, "interrupt C").len() == 1,
        "the interrupting message reached the model more than once"
    );
    Ok(())
}

#[test]
fn abg_codex_delivers_a_burst_in_order_exactly_once() {
    scenario::run("abg_codex_burst", Need::Codex, burst);
}

async fn burst(s: Scenario) -> Result<()> {
    let (mock, abg) = setup(&s).await?;
    let result = burst_steps(&mock, &abg).await;
    abg.shutdown().await?;
    result
}

async fn burst_steps(mock: &MockOpenAi, abg: &AbgCodex) -> Result<()> {
    human_turn(mock, abg, "start the thread").await?;
    abg.wait_message("first reply", WAIT, |m| m["from"] == "codex")
        .await?;
    let n = 100;
    let started = std::time::Instant::now();
    for i in 0..n {
        abg.send(&format!("burst message {i:03}"), None, 0).await?;
    }
    let end = std::time::Instant::now() + Duration::from_secs(240);
    loop {
        let msgs = abg.messages().await?;
        let done = msgs
            .iter()
            .filter(|m| m["to"] == "codex" && m["state"] == "completed")
            .count();
        if done == n {
            break;
        }
        ensure!(
            std::time::Instant::now() < end,
            "only {done}/{n} burst messages completed"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    support::announce(&format!(
        "burst of {n}: all delivered in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    let order: Vec<String> = mock
        .requests()
        .into_iter()
        .filter(|r| r.path == "/v1/responses" && !is_title_request(&r.body))
        .filter_map(|r| last_user_text(&r.body))
        .filter(|t| t.contains("burst message"))
        .collect();
    let want: Vec<String> = (0..n)
        .map(|i| format!("[from Claude] burst message {i:03}"))
        .collect();
    ensure!(
        order == want,
        "the model saw the burst out of order or not exactly once: {} requests, first differences: {:?}",
        order.len(),
        order
            .iter()
            .zip(&want)
            .filter(|(a, b)| a != b)
            .take(3)
            .collect::<Vec<_>>()
    );
    Ok(())
}

#[test]
fn abg_codex_loses_nothing_when_daemon_or_app_server_die() {
    scenario::run("abg_codex_faults", Need::Codex, faults);
}

async fn faults(s: Scenario) -> Result<()> {
    let (mock, abg) = setup(&s).await?;
    let result = faults_steps(&mock, &abg).await;
    abg.shutdown().await?;
    result
}

async fn faults_steps(mock: &MockOpenAi, abg: &AbgCodex) -> Result<()> {
    human_turn(mock, abg, "thread for the fault test").await?;
    abg.wait_message("first reply", WAIT, |m| m["from"] == "codex")
        .await?;

    // Daemon killed while a message is queued behind a slow turn.
    mock.push(Step::text("slow answer S").delay(Duration::from_secs(4)));
    abg.send("slow turn S", None, 20_000).await?;
    mock.wait_for_user_text("slow turn S", WAIT).await?;
    let q = abg
        .send("queued while the daemon dies", None, 5_000)
        .await?;
    ensure!(outcome(&q).0 == "queued", "{q}");
    let daemon = abg.pid_in("daemon.json")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    // The TUI keeps working as plain Codex meanwhile.
    mock.push(Step::text("plain codex still answers"));
    abg.tui.wait_for("slow answer S", WAIT).await?;
    abg.tui.type_text("typed while the daemon was down").await?;
    abg.tui.wait_for("plain codex still answers", WAIT).await?;
    // `abg codex` brings the daemon back; it resumes thread and queue.
    let status = abg.wait_daemon(WAIT).await?;
    ensure!(
        status["pid"].as_i64() != Some(i64::from(daemon)),
        "same daemon?"
    );
    mock.wait_for_user_text("queued while the daemon dies", WAIT)
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(
        requests_with(mock, "queued while the daemon dies").len() == 1,
        "the queued message was delivered more than once"
    );

    // App-server killed: restarted, thread resumed, queued message delivered.
    let root = abg.state_dir.parent().context("no root")?.to_path_buf();
    let tui_of = |root: &std::path::Path| -> Vec<i32> {
        support::procs::referencing(root)
            .into_iter()
            .filter(|p| p.cmdline.contains("--remote ws://"))
            .map(|p| p.pid)
            .collect()
    };
    let first_tui = tui_of(&root);
    ensure!(first_tui.len() == 1, "one Codex TUI: {first_tui:?}");
    let app = abg.pid_in("codex-appserver.json")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(app),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let sent = abg
        .send("sent while the app-server was down", None, 0)
        .await?;
    let id = sent["message_id"].as_str().context("no id")?.to_string();
    mock.wait_for_user_text(
        "sent while the app-server was down",
        Duration::from_secs(60),
    )
    .await?;
    abg.wait_message("the message completed after the restart", WAIT, |m| {
        m["id"] == id.as_str() && m["state"] == "completed"
    })
    .await?;
    ensure!(!alive(app), "the killed app-server is still alive");
    ensure!(
        abg.pid_in("codex-appserver.json")? != app,
        "the app-server was not restarted"
    );
    ensure!(
        requests_with(mock, "sent while the app-server was down").len() == 1,
        "delivered more than once after the restart"
    );
    // The TUI held the old server's token and could only retry: `abg
    // codex` launched it again on the pair's thread, in the same terminal,
    // and the human goes on where they were.
    let end = std::time::Instant::now() + WAIT;
    loop {
        let now = tui_of(&root);
        if now.len() == 1 && now != first_tui {
            break;
        }
        ensure!(
            std::time::Instant::now() < end,
            "the Codex TUI was not launched again: {now:?} (first {first_tui:?})"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    abg.tui
        .wait_for("sent while the app-server was down", WAIT)
        .await?;
    mock.push(Step::text("answer after the relaunch"));
    human_turn(mock, abg, "typed after the relaunch").await?;
    let req = requests_with(mock, "typed after the relaunch");
    ensure!(
        req.len() == 1
            && user_texts(&req[0])
                .iter()
                .any(|t| t.contains("thread for the fault test")),
        "the relaunched TUI is not on the pair's thread: {req:#?}"
    );
    abg.tui.wait_for("answer after the relaunch", WAIT).await?;
    half_sent_steps(mock, abg).await
}

/// The daemon died after writing a message's `turn/start` but before it
/// recorded the send (its crash marker is written while Codex answers): the
/// restarted daemon finds the message on the thread by its client id instead
/// of starting it a second time.
async fn half_sent_steps(mock: &MockOpenAi, abg: &AbgCodex) -> Result<()> {
    use abg::store::{NewMessage, Store};
    const TEXT: &str = "sent just before the daemon died";
    let pair_dir = abg.pair_dir()?;
    // `abg kill`'s sentinel keeps `abg codex` from respawning the daemon
    // while the test plays its last moments.
    std::fs::write(pair_dir.join("killed"), "held down by the e2e test\n")?;
    let daemon = abg.pid_in("daemon.json")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    let end = std::time::Instant::now() + WAIT;
    while alive(daemon) {
        ensure!(
            std::time::Instant::now() < end,
            "the killed daemon lives on"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (id, thread) = {
        let mut store = Store::open(&pair_dir.join("store.sqlite"))?;
        let thread: String = store
            .get_setting(abg::codex::session::THREAD_SETTING)?
            .context("the store names no thread")?;
        let stored =
            store.insert_message(&NewMessage::new(abg::claude::PEER, abg::codex::PEER, TEXT))?;
        store.close()?;
        (stored.into_message().id, thread)
    };
    // What the dead daemon had put on the wire.
    let token = std::fs::read_to_string(pair_dir.join("codex.token"))?;
    let client =
        support::app_server::AppServerClient::connect(abg.app_port(), Some(token.trim())).await?;
    client.initialize("abg-e2e-half-sent").await?;
    mock.push(Step::text("answer to the half-sent message"));
    let input = serde_json::json!([{"type": "text", "text": format!("[from Claude] {TEXT}"), "text_elements": []}]);
    client
        .request(
            "turn/start",
            serde_json::json!({"threadId": thread, "clientUserMessageId": id, "input": input}),
            WAIT,
        )
        .await?;
    mock.wait_for_user_text(TEXT, WAIT).await?;
    std::fs::remove_file(pair_dir.join("killed"))?;
    let out = abg.run_cli(&s_workdir(abg)?, &["status"])?;
    ensure!(out.status.success(), "abg status: {out:?}");
    abg.wait_message("the half-sent message found on the thread", WAIT, |m| {
        m["id"] == id.as_str() && (m["state"] == "started" || m["state"] == "completed")
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    ensure!(
        requests_with(mock, TEXT).len() == 1,
        "the half-sent message became a second turn"
    );
    Ok(())
}
