//! End-to-end: the real pinned Claude Code CLI against the mock Messages API,
//! with a test MCP server loaded as a development channel.
//!
//! Proves the harness and the channel path abg relies on, before abg sits in
//! the middle: the channel registers (canary for the undocumented flag-cache
//! seed), a pushed `notifications/claude/channel` reaches the model as a
//! `<channel source="bridge" …>` block, and a scripted `tool_use` of the
//! server's reply tool reaches the server. Skipped (one line) when the pinned
//! CLI is not installed; see `tests/e2e/setup.sh`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use anyhow::{Context, Result, ensure};
use serde_json::json;

use support::WAIT;
use support::clis::Need;
use support::diag::wait_for_file_text;
use support::env::ClaudeSeed;
use support::mcp_channel::ChannelServer;
use support::mock_anthropic::{MockAnthropic, Step, last_user_text_blocks, tool_result};
use support::scenario::{self, Scenario};

const DEV_DIALOG: &str = "I am using this for local development";

#[test]
fn claude_channel_push_reaches_the_model_and_the_reply_tool_reaches_the_server() {
    scenario::run("claude_channel", Need::Claude, channel_round_trip);
}

async fn channel_round_trip(s: Scenario) -> Result<()> {
    let claude = s.clis.claude()?;
    let mock = MockAnthropic::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("anthropic mock requests", move || log.summary(30));
    s.env
        .seed_claude(&mock.base_url(), &ClaudeSeed { channels: true })?;

    let server = ChannelServer::start("bridge", &s.env.root).await?;
    s.diag
        .add_source("channel MCP server wire", server.log_source());
    let mcp_config = s.env.root.join("mcp.json");
    server.write_mcp_config(&mcp_config)?;
    let debug_log = s.env.log_path("claude-debug.log");
    s.diag.add_file("claude debug log (tail)", &debug_log, 40);

    let mcp_arg = mcp_config.to_string_lossy();
    let debug_arg = debug_log.to_string_lossy();
    let tui = s.tui(
        "claude",
        claude,
        &[
            "--mcp-config",
            &mcp_arg,
            "--dangerously-load-development-channels",
            "server:bridge",
            "--dangerously-skip-permissions",
            "--debug-file",
            &debug_arg,
        ],
        &s.env.claude_env()?,
    )?;

    // The dev-channels dialog shows on every launch; option 1 is preselected.
    tui.wait_for(DEV_DIALOG, WAIT).await?;
    tui.press("Enter")?;
    tui.wait_until(
        "the Claude prompt after the dev-channels dialog",
        WAIT,
        |screen| !screen.contains(DEV_DIALOG) && screen.contains("bypass permissions on"),
    )
    .await?;

    // Canary for the flag-cache seed: a CLI bump that breaks it fails here.
    wait_for_file_text(
        &s.diag,
        &debug_log,
        "Channel notifications registered",
        WAIT,
    )
    .await?;
    server.wait_initialized(WAIT).await?;

    // Push into the idle session; "Claude" answers with the reply tool.
    let mark = mock.log().len();
    mock.push(Step::tool_use(
        "mcp__bridge__reply",
        json!({"text": "pong from claude"}),
    ));
    mock.push(Step::text("reply sent to the peer"));
    server.push_channel("ping from codex", json!({"from": "codex"}))?;

    let req = mock.wait_for_turn_since(mark, WAIT).await?;
    let blocks = last_user_text_blocks(&req.body);
    let expected = "<channel source=\"bridge\" from=\"codex\">\nping from codex\n</channel>";
    ensure!(
        blocks.last().map(String::as_str) == Some(expected),
        "the model request's last user text block is {:?}, expected {expected:?}",
        blocks.last()
    );
    ensure!(
        blocks.iter().any(|b| b.contains("mcp__bridge__channel")),
        "no system-reminder naming mcp__bridge__channel precedes the channel block: {blocks:?}"
    );
    tui.wait_for("← bridge: ping from codex", WAIT).await?;

    let call = server.wait_tool_call("reply", WAIT).await?;
    ensure!(
        call["arguments"]["text"] == "pong from claude",
        "reply tool called with {}",
        call["arguments"]
    );
    ensure!(
        call["_meta"]["claudecode/toolUseId"].is_string(),
        "tools/call carries no claudecode/toolUseId: {call}"
    );

    // Claude sends the tool result back and renders the final text.
    let tool_use_id = call["_meta"]["claudecode/toolUseId"]
        .as_str()
        .unwrap_or_default();
    mock.wait_for_request("the request carrying the reply tool's result", WAIT, |r| {
        tool_result(&r.body, tool_use_id).is_some()
    })
    .await?;
    tui.wait_for("reply sent to the peer", WAIT).await?;
    let pushed = std::fs::read_to_string(&debug_log).context("reading the debug log")?;
    ensure!(
        pushed.contains("notifications/claude/channel ("),
        "the debug log does not record the channel notification"
    );
    ensure!(
        mock.pending_steps() == 0,
        "{} scripted steps left",
        mock.pending_steps()
    );
    Ok(())
}
