//! End-to-end: `abg claude` runs the real pinned Claude Code under abg's PTY
//! supervisor against the mock Messages API, with `abg mcp` as its channel
//! and `abg hook` as its hooks. Proves the Claude side of issue 5: a message
//! injected through the daemon reaches the model in a `<channel source="abg">`
//! block, `mcp__abg__reply` stores a message for Codex, no message is lost
//! while Claude is idle (20 messages, each reaching the model exactly once,
//! with channels and without them), and bad tool input gets clear errors.
//! Skipped (one line) when the pinned CLI is absent; see tests/e2e/setup.sh.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::json;

use support::abg_claude::{AbgClaude, Launch, tool_result_with};
use support::clis::Need;
use support::mock_anthropic::{MockAnthropic, Step, last_user_text_blocks};
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

#[test]
fn abg_claude_push_reaches_the_model_and_reply_reaches_the_daemon() {
    scenario::run("abg_claude_push_reply", Need::Claude, push_and_reply);
}

#[test]
fn idle_claude_loses_no_message_with_channels() {
    scenario::run("abg_claude_idle_channels", Need::Claude, |s| {
        idle_loss(s, true)
    });
}

#[test]
fn idle_claude_loses_no_message_without_channels() {
    scenario::run("abg_claude_idle_no_channels", Need::Claude, |s| {
        idle_loss(s, false)
    });
}

async fn start_mock(s: &Scenario) -> Result<MockAnthropic> {
    let mock = MockAnthropic::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("anthropic mock requests", move || log.summary(40));
    Ok(mock)
}

async fn wait_message(abg: &AbgClaude, from: &str, body: &str) -> Result<serde_json::Value> {
    let start = Instant::now();
    loop {
        let msgs = abg.messages().await?;
        if let Some(m) = msgs.iter().find(|m| m["from"] == from && m["body"] == body) {
            return Ok(m.clone());
        }
        ensure!(
            start.elapsed() < WAIT,
            "no message {body:?} from {from} in the daemon: {msgs:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_tool_result(mock: &MockAnthropic, needle: &str) -> Result<(String, bool)> {
    let start = Instant::now();
    loop {
        if let Some(found) = tool_result_with(mock, needle) {
            return Ok(found);
        }
        ensure!(
            start.elapsed() < WAIT,
            "no tool result containing {needle:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn push_and_reply(s: Scenario) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgClaude::start(
        &s,
        &mock,
        &Launch {
            channels: true,
            doorbell_secs: 10,
            ..Launch::default()
        },
    )
    .await?;

    // Codex → Claude: the push reaches the model as a channel block.
    let mark = mock.log().len();
    mock.push(Step::tool_use(
        "mcp__abg__reply",
        json!({"text": "pong from claude"}),
    ));
    mock.push(Step::text("reply sent to codex"));
    let t0 = Instant::now();
    let id = abg
        .inject("codex", "claude", "ping from codex via abg")
        .await?;
    let req = mock.wait_for_turn_since(mark, WAIT).await?;
    let push_ms = t0.elapsed().as_millis();
    let blocks = last_user_text_blocks(&req.body);
    let last = blocks.last().cloned().unwrap_or_default();
    ensure!(
        last.starts_with("<channel source=\"abg\"")
            && last.contains("from=\"codex\"")
            && last.contains(&format!("msg_id=\"{id}\""))
            && last.contains("ping from codex via abg"),
        "the model request's last user block is {last:?}"
    );

    // Claude → Codex: the reply tool stores a message for Codex.
    let reply = wait_message(&abg, "claude", "pong from claude").await?;
    let round_ms = t0.elapsed().as_millis();
    ensure!(reply["to"] == "codex", "{reply}");
    let (text, is_error) = wait_tool_result(&mock, "result:").await?;
    ensure!(
        !is_error && text.contains(reply["id"].as_str().unwrap_or("?")),
        "{text}"
    );
    abg.tui.wait_for("reply sent to codex", WAIT).await?;
    abg.wait_states(&s, &[id], "acknowledged", WAIT).await?;
    announce(&format!(
        "abg claude: inject→model {push_ms} ms, inject→reply stored {round_ms} ms"
    ));

    // Bad input: clear tool errors.
    mock.push(Step::tool_use("mcp__abg__reply", json!({"text": 5})));
    mock.push(Step::tool_use(
        "mcp__abg__reply",
        json!({"text": "x".repeat(300_000)}),
    ));
    mock.push(Step::tool_use(
        "mcp__abg__get_messages",
        json!({"ack": "m_1"}),
    ));
    mock.push(Step::text("bad input done"));
    abg.tui.type_text("try some bad tool input").await?;
    for needle in ["must be a string", "over the limit", "must be an array"] {
        let (text, is_error) = wait_tool_result(&mock, needle).await?;
        ensure!(is_error, "not an error result: {text}");
    }
    abg.tui.wait_for("bad input done", WAIT).await?;

    // The daemon goes away: the reply is refused, clearly.
    abg.stop_daemon().await?;
    let start = Instant::now();
    while abg.messages().await.is_ok() {
        ensure!(start.elapsed() < WAIT, "the daemon did not stop");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    mock.push(Step::tool_use(
        "mcp__abg__reply",
        json!({"text": "anyone there?"}),
    ));
    mock.push(Step::text("daemon down done"));
    abg.tui.type_text("reply while the daemon is down").await?;
    let (text, is_error) = wait_tool_result(&mock, "nothing was sent").await?;
    ensure!(is_error, "not an error result: {text}");
    abg.tui.wait_for("daemon down done", WAIT).await?;
    Ok(())
}

async fn idle_loss(s: Scenario, channels: bool) -> Result<()> {
    let mock = start_mock(&s).await?;
    let abg = AbgClaude::start(
        &s,
        &mock,
        &Launch {
            channels,
            doorbell_secs: 3,
            ..Launch::default()
        },
    )
    .await?;
    let nonce = std::process::id();
    let bodies: Vec<String> = (0..20)
        .map(|i| format!("idle-loss note {i:02} n{nonce}"))
        .collect();
    let all_ms = abg
        .deliver_each_once(&s, &mock, &bodies, Duration::from_secs(90))
        .await?;
    announce(&format!(
        "abg claude idle loss (channels: {channels}): 20 messages acknowledged in {all_ms} ms, each delivered once"
    ));
    Ok(())
}
