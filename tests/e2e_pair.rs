//! End-to-end: the full pair. `abg codex` and `abg claude` run in two tmux
//! terminals of one project (one netns, one hermetic home, both mocks) and
//! talk through their shared daemon, as issue 5's "Full pair" and issue 9's
//! kickoff and doctor acceptance ask:
//! - exactly one kickoff notice reaches each agent's model, never again;
//! - a human turn typed in Codex produces an agent message that reaches
//!   Claude's model in a `<channel source="abg" …>` block;
//! - Claude's scripted `mcp__abg__reply` reaches Codex's model as a new
//!   `[from Claude]` turn and renders in Codex's TUI;
//! - the round trip is measured and printed;
//! - after the session `abg doctor --json` passes, channel registered.
//!
//! Mock scripting relies on ordering: Codex creates its thread lazily on
//! the first (human) turn, so its kickoff turn can only follow that turn,
//! and Claude's scripted steps are queued only once its kickoff turn has
//! been answered and acknowledged. Skipped (one line) when a pinned CLI is
//! absent; a hard failure with `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::{Value, json};

use support::clis::Need;
use support::mock_anthropic::{self, MockAnthropic, has_tools};
use support::mock_openai::{self, MockOpenAi, is_title_request, last_user_text};
use support::pair::{AbgPair, epoch_ms, received_ms};
use support::recorder::RecordedRequest;
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

/// Distinctive parts of the two kickoff notices (src/daemon/kickoff.rs).
const KICKOFF_CLAUDE: &str = "You are paired with Codex";
const KICKOFF_CODEX: &str = "[abg notice] You are paired with Claude Code";

const HUMAN: &str = "human to codex: outline the parser refactor";
const CODEX_ANSWER: &str = "codex to claude: the parser refactor has three steps";
const KICKOFF_ANSWER: &str = "codex answers the abg notice, never relayed";
const CLAUDE_REPLY: &str = "claude to codex: write a failing test for step two first";
const CLAUDE_DONE: &str = "claude sent its review to codex";
const CODEX_ON_REPLY: &str = "codex to claude: the failing test for step two is written";

/// Doctor checks whose outcome depends on the host, not on abg: the org
/// policy file (`/etc/claude-code/managed-settings.json`) is outside the
/// hermetic home. It is never a failure, only ok or warn.
const HOST_DEPENDENT: &[&str] = &["claude.policy"];

#[test]
fn full_pair_kickoff_round_trip_and_doctor() {
    scenario::run("pair_full", Need::Both, full_pair);
}

/// Both mocks, with the epoch ms each started at (their logs count from it).
struct Mocks {
    openai: MockOpenAi,
    openai_t0: i64,
    anthropic: MockAnthropic,
    anthropic_t0: i64,
}

async fn full_pair(s: Scenario) -> Result<()> {
    let openai_t0 = epoch_ms();
    let openai = MockOpenAi::start().await?;
    let anthropic_t0 = epoch_ms();
    let anthropic = MockAnthropic::start().await?;
    let (o, a) = (openai.log().clone(), anthropic.log().clone());
    s.diag
        .add_source("openai mock requests", move || o.summary(40));
    s.diag
        .add_source("anthropic mock requests", move || a.summary(40));
    let mocks = Mocks {
        openai,
        openai_t0,
        anthropic,
        anthropic_t0,
    };
    let mut pair =
        AbgPair::start(&s, &mocks.openai.base_url(), &mocks.anthropic.base_url()).await?;
    let result = steps(&s, &mocks, &mut pair).await;
    // Claude's full requests, for digging with ABG_E2E_KEEP=1.
    let bodies: Vec<Value> = mocks
        .anthropic
        .requests()
        .into_iter()
        .map(|r| r.body)
        .collect();
    let _ = std::fs::write(
        s.env.logs_dir.join("anthropic-requests.json"),
        serde_json::to_string_pretty(&bodies).unwrap_or_default(),
    );
    pair.shutdown();
    result
}

async fn steps(s: &Scenario, m: &Mocks, pair: &mut AbgPair) -> Result<()> {
    // Kickoff, Claude side: pushed as soon as both agents are attached.
    m.anthropic
        .wait_for_request("Claude's kickoff in a channel block", WAIT, |r| {
            channel_block(r, KICKOFF_CLAUDE).is_some()
        })
        .await?;
    pair.wait_message("Claude's kickoff acknowledged", WAIT, |v| {
        v["from"] == "abg" && v["to"] == "claude" && v["state"] == "acknowledged"
    })
    .await?;

    // Claude answers Codex's coming message with the reply tool, then text.
    // Codex answers, in order: the human turn, its kickoff turn (its thread
    // exists only after the first turn), Claude's reply.
    m.anthropic.push(mock_anthropic::Step::tool_use(
        "mcp__abg__reply",
        json!({ "text": CLAUDE_REPLY }),
    ));
    m.anthropic.push(mock_anthropic::Step::text(CLAUDE_DONE));
    for text in [CODEX_ANSWER, KICKOFF_ANSWER, CODEX_ON_REPLY] {
        m.openai.push(mock_openai::Step::text(text).chunks(2));
    }

    // The human turn in Codex's terminal.
    pair.codex.type_text(HUMAN).await?;
    let t_enter = epoch_ms();
    m.openai.wait_for_user_text(HUMAN, WAIT).await?;
    pair.codex.wait_for(CODEX_ANSWER, WAIT).await?;

    // Codex → Claude: the agent message is stored and reaches Claude's model.
    let stored = pair
        .wait_message("Codex's answer stored for Claude", WAIT, |v| {
            v["from"] == "codex" && v["to"] == "claude" && v["body"] == CODEX_ANSWER
        })
        .await?;
    let stored_id = stored["id"].as_str().context("no message id")?.to_string();
    let t_stored = stored["created_ms"].as_i64().context("no created_ms")?;
    let to_claude = m
        .anthropic
        .wait_for_request("Codex's answer in a channel block", WAIT, |r| {
            has_tools(&r.body) && channel_block(r, CODEX_ANSWER).is_some()
        })
        .await?;
    let block = channel_block(&to_claude, CODEX_ANSWER).unwrap_or_default();
    ensure!(
        block.contains("from=\"codex\"") && block.contains(&format!("msg_id=\"{stored_id}\"")),
        "the channel block does not name Codex and the message: {block:?}"
    );
    let t_claude = received_ms(m.anthropic_t0, &to_claude);

    // Claude → Codex: the reply is stored and becomes a new Codex turn.
    let reply = pair
        .wait_message("Claude's reply stored for Codex", WAIT, |v| {
            v["from"] == "claude" && v["to"] == "codex" && v["body"] == CLAUDE_REPLY
        })
        .await?;
    let t_reply = reply["created_ms"].as_i64().context("no created_ms")?;
    let framed = format!("[from Claude] {CLAUDE_REPLY}");
    let to_codex = m.openai.wait_for_user_text(&framed, WAIT).await?;
    ensure!(
        last_user_text(&to_codex.body).as_deref() == Some(framed.as_str()),
        "Codex's new turn is not exactly the framed reply: {:?}",
        last_user_text(&to_codex.body)
    );
    let t_codex = received_ms(m.openai_t0, &to_codex);
    pair.codex.wait_for(&framed, WAIT).await?;
    pair.codex.wait_for(CODEX_ON_REPLY, WAIT).await?;
    pair.claude.wait_for(CLAUDE_DONE, WAIT).await?;

    let secs = |ms: i64| ms as f64 / 1000.0;
    announce(&format!(
        "e2e pair round trip: {:.2} s (codex→claude {:.2} s, claude→codex {:.2} s)",
        secs(t_codex - t_enter),
        secs(t_claude - t_enter),
        secs(t_codex - t_claude),
    ));
    announce(&format!(
        "e2e pair stages: enter→stored {:.2} s, stored→claude model {:.2} s, \
         claude model→reply stored {:.2} s, reply stored→codex model {:.2} s",
        secs(t_stored - t_enter),
        secs(t_claude - t_stored),
        secs(t_reply - t_claude),
        secs(t_codex - t_reply),
    ));

    // The loop closes: Codex's answer to the reply reaches Claude too.
    m.anthropic
        .wait_for_request("Codex's second answer in a channel block", WAIT, |r| {
            channel_block(r, CODEX_ON_REPLY).is_some()
        })
        .await?;

    // Codex's kickoff turn happened; its answer was never relayed.
    m.openai.wait_for_user_text(KICKOFF_CODEX, WAIT).await?;
    pair.wait_message("Codex's kickoff turn completed", WAIT, |v| {
        v["from"] == "abg" && v["to"] == "codex" && v["state"] == "completed"
    })
    .await?;
    ensure!(
        !pair
            .messages()
            .await?
            .iter()
            .any(|v| v["body"] == KICKOFF_ANSWER),
        "Codex's answer to the kickoff notice was stored as a message"
    );

    // Exactly one kickoff per agent, still after a quiet while.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let reqs = m.anthropic.requests();
    ensure!(
        !reqs
            .iter()
            .any(|r| r.body.to_string().contains(KICKOFF_ANSWER)),
        "Codex's answer to the kickoff notice reached Claude's model"
    );
    let claude_kickoffs = reqs
        .iter()
        .filter(|r| channel_block(r, KICKOFF_CLAUDE).is_some())
        .count();
    let codex_kickoffs = codex_turns_with(&m.openai, KICKOFF_CODEX);
    ensure!(
        claude_kickoffs == 1 && codex_kickoffs == 1,
        "{}",
        s.diag.with_report(format!(
            "kickoff notices reaching the models: claude {claude_kickoffs}, codex {codex_kickoffs} (want 1 each)"
        ))
    );
    let notices = pair
        .messages()
        .await?
        .iter()
        .filter(|v| v["from"] == "abg")
        .count();
    ensure!(
        notices == 2,
        "{notices} notices stored, want the 2 kickoffs"
    );

    // After the session: doctor sees a healthy pair and the registration.
    pair.stop_terminals();
    doctor(s, pair)
}

/// The `<channel source="abg" …>` block containing `needle` among the
/// request's new content: the messages after the last assistant message
/// (user messages, and the system note Claude adds for a channel message
/// that arrives mid-turn). The history repeated in later requests is not
/// counted.
fn channel_block(r: &RecordedRequest, needle: &str) -> Option<String> {
    if r.method != "POST" || r.path != "/v1/messages" {
        return None;
    }
    let messages = r.body["messages"].as_array()?;
    let first_new = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    messages[first_new..]
        .iter()
        .flat_map(|m| match &m["content"] {
            Value::String(s) => vec![s.clone()],
            Value::Array(blocks) => blocks
                .iter()
                .filter_map(|b| b["text"].as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        })
        .flat_map(|text| {
            text.split("<channel ")
                .skip(1)
                .map(|c| format!("<channel {c}"))
                .collect::<Vec<_>>()
        })
        .find(|c| c.starts_with("<channel source=\"abg\"") && c.contains(needle))
}

/// Codex model turns (not title requests) whose newest user text has `needle`.
fn codex_turns_with(mock: &MockOpenAi, needle: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path == "/v1/responses" && !is_title_request(&r.body))
        .filter(|r| last_user_text(&r.body).is_some_and(|t| t.contains(needle)))
        .count()
}

/// `abg doctor --json` with the pair's environment, after the session.
fn doctor(s: &Scenario, pair: &AbgPair) -> Result<()> {
    let out = pair.run_cli(&["doctor", "--json"])?;
    let report: Value = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "abg doctor --json printed no JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let checks = report["checks"].as_array().cloned().unwrap_or_default();
    let status = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["status"].as_str().unwrap_or("?").to_string())
    };
    let fail = |why: String| {
        s.diag
            .with_report(format!("{why}\ndoctor report: {report:#}"))
    };
    // Every check that cannot depend on the host must pass.
    let not_ok: Vec<String> = checks
        .iter()
        .filter(|c| c["status"] != "ok")
        .filter(|c| !HOST_DEPENDENT.iter().any(|id| c["id"] == *id))
        .map(|c| format!("{} {}: {}", c["id"], c["status"], c["summary"]))
        .collect();
    if !not_ok.is_empty() {
        return Err(fail(format!("doctor checks not ok: {not_ok:#?}")));
    }
    for id in [
        "config",
        "claude.version",
        "codex.version",
        "codex.app_server_flags",
        "codex.remote_auth_flag",
        "claude.auth",
        "claude.channel_flag",
        "claude.channel",
        "pair.registry",
        "pair.ports",
        "pair.state_dir",
        "pair.secret",
        "daemon",
        "codex.app_server",
        "agents",
        "store.integrity",
        "store.queues",
        "codex.thread",
    ] {
        if status(id).as_deref() != Some("ok") {
            return Err(fail(format!("doctor check {id} missing or not ok")));
        }
    }
    let summary = |id: &str| {
        checks
            .iter()
            .find(|c| c["id"] == id)
            .and_then(|c| c["summary"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    if !summary("claude.channel").contains("registered abg's channel") {
        return Err(fail(
            "claude.channel does not report the registration".into(),
        ));
    }
    if !summary("codex.thread").starts_with("current Codex thread") {
        return Err(fail("codex.thread names no thread".into()));
    }
    let host_fails = checks
        .iter()
        .filter(|c| c["status"] == "fail")
        .filter(|c| HOST_DEPENDENT.iter().any(|id| c["id"] == *id))
        .count();
    if out.status.success() != (host_fails == 0) || report["ok"] != (host_fails == 0) {
        return Err(fail(format!(
            "doctor exit status {:?} and ok={} disagree with {host_fails} failed host checks",
            out.status.code(),
            report["ok"]
        )));
    }
    announce(&format!(
        "e2e pair doctor: {} ok, {} warn, {} fail (exit {:?})",
        report["counts"]["ok"],
        report["counts"]["warn"],
        report["counts"]["fail"],
        out.status.code()
    ));
    Ok(())
}
