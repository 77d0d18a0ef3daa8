//! End-to-end: `abg claude` with abg's Claude Code plugin installed in the
//! hermetic Claude home (the repo's `plugin/` added as a local directory
//! marketplace, `claude plugin install abg@abg`), with the real pinned
//! Claude Code against the mock Messages API.
//!
//! - `claude.channel = auto` picks the plugin: no generated MCP config or
//!   hooks; Claude registers the plugin's dev channel (`plugin:abg@abg`), a
//!   message injected for Claude reaches the model exactly once in a
//!   `<channel source="plugin:abg:abg" …>` block, a scripted `tool_use` of
//!   `mcp__plugin_abg_abg__reply` stores a message for Codex, and every hook
//!   runs once, from the plugin (one SessionStart reaches the daemon, one
//!   Claude link attaches).
//! - The plugin way without the channels feature (no flag-cache seed):
//!   Claude logs the plugin's channel as skipped, and messages still reach
//!   the model exactly once, through the plugin's Stop hook and abg's
//!   prompt doorbell.
//! - `claude.channel = generated` with the plugin still installed: the
//!   plugin stays out of the session (no `plugin:abg:abg` server, no plugin
//!   hook), and the generated way delivers exactly once, as without it.
//!
//! Skipped (one line) when the pinned CLI is absent; see tests/e2e/setup.sh.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::{Value, json};

use support::abg_claude::{AbgClaude, Launch, last_user_texts, times_delivered};
use support::clis::Need;
use support::mock_anthropic::{MockAnthropic, Step, last_user_text_blocks};
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

#[test]
fn abg_claude_auto_runs_through_the_installed_plugin() {
    scenario::run("abg_claude_plugin_auto", Need::Claude, |s| {
        one_way(s, Way::Plugin)
    });
}

#[test]
fn abg_claude_generated_keeps_the_installed_plugin_out() {
    scenario::run("abg_claude_plugin_generated", Need::Claude, |s| {
        one_way(s, Way::Generated)
    });
}

#[test]
fn abg_claude_plugin_way_falls_back_without_channels() {
    scenario::run(
        "abg_claude_plugin_no_channels",
        Need::Claude,
        plugin_without_channels,
    );
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Way {
    Plugin,
    Generated,
}

impl Way {
    fn server(self) -> &'static str {
        match self {
            Way::Plugin => "plugin:abg:abg",
            Way::Generated => "abg",
        }
    }

    fn reply_tool(self) -> &'static str {
        match self {
            Way::Plugin => "mcp__plugin_abg_abg__reply",
            Way::Generated => "mcp__abg__reply",
        }
    }
}

async fn wait_message(abg: &AbgClaude, from: &str, body: &str) -> Result<Value> {
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

fn read(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Hook runs Claude logged as finished (`Hooks: <event>… finished …`).
fn hook_runs<'a>(debug: &'a str, event: &str) -> Vec<&'a str> {
    let head = format!("Hooks: {event}");
    debug
        .lines()
        .filter(|l| l.contains(&head) && l.contains("finished with status"))
        .collect()
}

async fn one_way(s: Scenario, way: Way) -> Result<()> {
    let mock = MockAnthropic::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("anthropic mock requests", move || log.summary(40));
    let abg = AbgClaude::start(
        &s,
        &mock,
        &Launch {
            install_plugin: true,
            channel: (way == Way::Generated).then_some("generated"),
            server: way.server(),
            ..Launch::default()
        },
    )
    .await?;

    // What abg chose shows in the files it wrote.
    let settings: Value =
        serde_json::from_str(&read(&abg.state_dir.join("claude-settings.json"))?)?;
    let mcp_config = abg.state_dir.join("claude-mcp.json");
    match way {
        Way::Plugin => {
            ensure!(!mcp_config.exists(), "a generated MCP config was written");
            ensure!(settings.get("hooks").is_none(), "{settings}");
        }
        Way::Generated => {
            ensure!(mcp_config.exists(), "no generated MCP config");
            ensure!(settings["enabledPlugins"]["abg@abg"] == false, "{settings}");
        }
    }
    ensure!(
        settings["permissions"]["allow"][0] == way.reply_tool(),
        "{settings}"
    );

    // Codex → Claude through this way's channel; Claude answers with this
    // way's reply tool.
    let nonce = std::process::id();
    let body = format!("ping via the {way:?} way n{nonce}");
    let answer = format!("pong via the {way:?} way n{nonce}");
    let mark = mock.log().len();
    mock.push(Step::tool_use(way.reply_tool(), json!({ "text": answer })));
    mock.push(Step::text("reply sent to codex"));
    let t0 = Instant::now();
    let id = abg.inject("codex", "claude", &body).await?;
    let req = mock.wait_for_turn_since(mark, WAIT).await?;
    let push_ms = t0.elapsed().as_millis();
    let last = last_user_text_blocks(&req.body)
        .last()
        .cloned()
        .unwrap_or_default();
    ensure!(
        last.starts_with(&format!("<channel source=\"{}\"", way.server()))
            && last.contains("from=\"codex\"")
            && last.contains(&format!("msg_id=\"{id}\""))
            && last.contains(&body),
        "the model request's last user block is {last:?}"
    );
    let reply = wait_message(&abg, "claude", &answer).await?;
    ensure!(reply["to"] == "codex", "{reply}");
    abg.tui.wait_for("reply sent to codex", WAIT).await?;
    abg.wait_states(&s, std::slice::from_ref(&id), "acknowledged", WAIT)
        .await?;
    // A quiet moment for a duplicate turn to show up before counting.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let times = times_delivered(&mock, &body);
    ensure!(
        times == 1,
        "{}",
        s.diag
            .with_report(format!("the message reached the model {times} times"))
    );

    // One server, one set of hooks, one Claude link.
    let debug = read(&abg.debug_log)?;
    let other = match way {
        Way::Plugin => "abg",
        Way::Generated => "plugin:abg:abg",
    };
    ensure!(
        !debug.contains(&format!("MCP server \"{other}\":")),
        "the {other} server also ran"
    );
    let starts = hook_runs(&debug, "SessionStart");
    ensure!(starts.len() == 1, "SessionStart hooks: {starts:#?}");
    let stops = hook_runs(&debug, "Stop");
    ensure!(!stops.is_empty(), "no Stop hook ran");
    for runs in [&starts, &stops] {
        let plugin_runs = runs
            .iter()
            .filter(|l| l.contains("(plugin abg@abg)"))
            .count();
        let want = if way == Way::Plugin { runs.len() } else { 0 };
        ensure!(plugin_runs == want, "hook runs: {runs:#?}");
    }
    let daemon = read(&abg.state_dir.join("logs/daemon.log"))?;
    let attached = daemon.matches("claude link attached").count();
    ensure!(attached == 1, "{attached} Claude links attached");
    let session_starts = daemon
        .lines()
        .filter(|l| l.contains("claude hook") && l.contains("SessionStart"))
        .count();
    ensure!(
        session_starts == 1,
        "the daemon saw {session_starts} SessionStart hooks"
    );
    announce(&format!(
        "abg claude ({way:?} way, plugin installed): inject→model {push_ms} ms, delivered once, hooks once"
    ));
    Ok(())
}

async fn plugin_without_channels(s: Scenario) -> Result<()> {
    let mock = MockAnthropic::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("anthropic mock requests", move || log.summary(40));
    let abg = AbgClaude::start(
        &s,
        &mock,
        &Launch {
            channels: false,
            doorbell_secs: 3,
            install_plugin: true,
            channel: Some("plugin"),
            server: Way::Plugin.server(),
        },
    )
    .await?;
    // `abg claude` says in one line that channels are unavailable.
    abg.tui
        .wait_for("Claude channels are unavailable here", WAIT)
        .await?;
    let nonce = std::process::id();
    let bodies: Vec<String> = (0..5)
        .map(|i| format!("plugin fallback note {i:02} n{nonce}"))
        .collect();
    let all_ms = abg
        .deliver_each_once(&s, &mock, &bodies, Duration::from_secs(90))
        .await?;
    let blocks = mock
        .requests()
        .iter()
        .filter(|r| {
            last_user_text_blocks(&r.body)
                .iter()
                .any(|b| b.starts_with("<channel "))
        })
        .count();
    ensure!(
        blocks == 0,
        "{blocks} channel blocks reached the model without channels"
    );
    // They came through the plugin's Stop hook (after the doorbell woke Claude).
    let by_stop_hook = mock
        .requests()
        .iter()
        .filter(|r| last_user_texts(&r.body).contains("Stop hook feedback"))
        .count();
    ensure!(by_stop_hook > 0, "no Stop hook feedback reached the model");
    announce(&format!(
        "abg claude (plugin way, no channels): 5 messages acknowledged in {all_ms} ms, each delivered once"
    ));
    Ok(())
}
