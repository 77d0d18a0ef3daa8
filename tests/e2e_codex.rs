//! End-to-end: the real pinned Codex CLI against the mock Responses API.
//!
//! Proves the harness and the topology abg's daemon relies on, before abg
//! sits in the middle: one `codex app-server` on a token-protected WebSocket,
//! the real TUI attached with `--remote`, and a second client on the same
//! app-server that follows the TUI's thread and injects a turn into it.
//! Skipped (one line) when the pinned CLI is not installed; see
//! `tests/e2e/setup.sh`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use support::WAIT;
use support::app_server::{AppServerClient, AppServerProc, upgrade_status, user_message_text};
use support::clis::Need;
use support::env::{CodexSeed, set_var};
use support::mock_openai::{MockOpenAi, Step, is_title_request};
use support::scenario::{self, Scenario};
use support::tui::Tui;

/// The env var the TUI reads its app-server token from.
const TOKEN_VAR: &str = "ABG_E2E_CODEX_TOKEN";

#[test]
fn codex_tui_and_a_second_client_share_one_thread() {
    scenario::run("codex_tui_bridge", Need::Codex, tui_and_second_client);
}

async fn tui_and_second_client(s: Scenario) -> Result<()> {
    let mock = MockOpenAi::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("openai mock requests", move || log.summary(30));
    s.env.seed_codex(&mock.base_url(), &CodexSeed::default())?;

    let server = AppServerProc::start(&s).await?;

    // The capability token is enforced on the raw upgrade.
    let anon = upgrade_status(server.port, None).await?;
    ensure!(
        anon == 401,
        "upgrade without a token answered {anon}, expected 401"
    );
    let wrong = upgrade_status(server.port, Some("not-the-token")).await?;
    ensure!(
        wrong == 401,
        "upgrade with a wrong token answered {wrong}, expected 401"
    );

    let tui = start_tui(&s, &server).await?;

    let bridge = server.client().await?;
    s.diag
        .add_source("bridge client messages", bridge.log_source());
    let init = bridge.initialize("abg-e2e-bridge").await?;
    ensure!(
        init["codexHome"].as_str() == Some(&*s.env.codex_home.to_string_lossy()),
        "initialize reported codexHome {}, expected the seeded one",
        init["codexHome"]
    );

    // 1. A turn typed in the TUI reaches the mock, and the reply renders.
    mock.push(Step::text("scripted reply from the mock model").chunks(3));
    tui.type_text("hello from the tui").await?;
    let req = mock.wait_for_user_text("hello from the tui", WAIT).await?;
    ensure!(
        req.header("authorization") == Some("Bearer dummy"),
        "the mock provider key was not sent: {:?}",
        req.header("authorization")
    );
    tui.wait_for("scripted reply from the mock model", WAIT)
        .await?;

    // 2. The second client finds the TUI's thread (not the title thread).
    let thread_id = find_thread_by_preview(&bridge, "hello from the tui").await?;
    let loaded = bridge
        .request("thread/loaded/list", json!({}), WAIT)
        .await?;
    ensure!(
        contains_str(&loaded["data"], &thread_id),
        "thread {thread_id} is not in thread/loaded/list: {loaded}"
    );
    bridge
        .request(
            "thread/resume",
            json!({"threadId": thread_id, "excludeTurns": true}),
            WAIT,
        )
        .await?;

    // 3. It sees the notifications of the next turn typed in the TUI.
    let mark = bridge.mark();
    tui.type_text("second turn typed in the tui").await?;
    let item = bridge
        .wait_notification(mark, "item/completed", WAIT, |p| {
            p["threadId"] == thread_id.as_str()
                && p["item"]["type"] == "userMessage"
                && user_message_text(&p["item"]).contains("second turn typed in the tui")
        })
        .await?;
    let turn_id = item["turnId"].as_str().unwrap_or_default().to_string();
    let agent = bridge
        .wait_notification(mark, "item/completed", WAIT, |p| {
            p["threadId"] == thread_id.as_str() && p["item"]["type"] == "agentMessage"
        })
        .await?;
    let text = agent["item"]["text"].as_str().unwrap_or_default();
    ensure!(
        text.starts_with("mock reply ") && text.ends_with(": second turn typed in the tui"),
        "the second client saw agent text {text:?}, expected the mock's echo"
    );
    bridge
        .wait_notification(mark, "turn/completed", WAIT, |p| {
            p["threadId"] == thread_id.as_str() && p["turn"]["id"] == turn_id.as_str()
        })
        .await?;
    tui.wait_for(text, WAIT).await?;

    // 4. A turn the second client starts reaches the mock and renders in the TUI.
    mock.push(Step::text("answer to the injected turn").chunks(2));
    let mark = bridge.mark();
    let started = bridge
        .request(
            "turn/start",
            json!({"threadId": thread_id, "clientUserMessageId": "abg-e2e-1",
                   "input": [{"type": "text", "text": "injected by the second client", "text_elements": []}]}),
            WAIT,
        )
        .await?;
    let injected_turn = started["turn"]["id"]
        .as_str()
        .context("turn/start returned no turn id")?;
    mock.wait_for_user_text("injected by the second client", WAIT)
        .await?;
    let done = bridge
        .wait_notification(mark, "turn/completed", WAIT, |p| {
            p["turn"]["id"] == injected_turn
        })
        .await?;
    ensure!(
        done["turn"]["status"] == "completed",
        "the injected turn ended {}",
        done["turn"]["status"]
    );
    tui.wait_for("injected by the second client", WAIT).await?;
    tui.wait_for("answer to the injected turn", WAIT).await?;

    // The title side request was answered without eating a scripted step.
    ensure!(
        mock.pending_steps() == 0,
        "{} scripted steps left",
        mock.pending_steps()
    );
    ensure!(
        mock.requests().iter().any(|r| is_title_request(&r.body)),
        "the TUI sent no title request; the mock's title handling is untested"
    );
    Ok(())
}

/// Starts the real TUI attached to `server` and waits until it is connected
/// (the composer alone shows before the connection; the permissions line in
/// the header comes from the app-server's effective config).
async fn start_tui(s: &Scenario, server: &AppServerProc) -> Result<Tui> {
    let codex = s.clis.codex()?;
    let mut env = s.env.codex_env();
    set_var(&mut env, TOKEN_VAR, &server.token);
    let url = server.url();
    let tui = s.tui(
        "codex",
        codex,
        &[
            "--remote",
            &url,
            "--remote-auth-token-env",
            TOKEN_VAR,
            "-c",
            "features.daemon_auto_start=false",
        ],
        &env,
    )?;
    tui.wait_until("the connected Codex composer", WAIT, |screen| {
        screen.contains("Ask Codex to do anything") && screen.contains("permissions:")
    })
    .await?;
    Ok(tui)
}

/// `thread/list` until a thread's preview contains `needle` (the TUI creates
/// its thread lazily, on the first turn).
async fn find_thread_by_preview(bridge: &AppServerClient, needle: &str) -> Result<String> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let list = bridge
            .request("thread/list", json!({"sortKey": "updated_at"}), WAIT)
            .await?;
        let hit = list["data"].as_array().and_then(|threads| {
            threads
                .iter()
                .find(|t| t["preview"].as_str().is_some_and(|p| p.contains(needle)))
                .and_then(|t| t["id"].as_str().map(str::to_string))
        });
        if let Some(id) = hit {
            return Ok(id);
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "no thread with preview {needle:?} in thread/list: {list}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn contains_str(list: &Value, s: &str) -> bool {
    list.as_array().is_some_and(|a| a.iter().any(|v| v == s))
}
