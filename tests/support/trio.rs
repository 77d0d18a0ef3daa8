//! Driving a pair of three: `abg codex`, `abg claude` and `abg opencode` in
//! three tmux terminals of one project, sharing one pair daemon.
//!
//! Why it exists: issue 18's three-way acceptance needs all three real
//! agents in ONE pair (one hermetic home with all three CLIs seeded against
//! their mocks, one abg state dir, one port base). The Codex and Claude
//! halves start exactly as [`AbgPair`] starts them; OpenCode then starts in
//! the same environment as `tests/e2e_opencode.rs` starts it alone
//! ([`super::opencode`]), and the trio is ready once the daemon reports it
//! attached. Teardown stops OpenCode's terminal, then the pair (its
//! terminals, `abg kill`, leftovers by pid, the OpenCode server included).
//! Also the reads a three-way test makes of the mocks' requests (who saw
//! which peer text) and of the store (each message once, with its `from`
//! and `to`).

use std::path::Path;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::WAIT;
use super::diag::tail_file;
use super::env::set_var;
use super::env::{ClaudeSeed, CodexSeed};
use super::governor::{is_held, poll};
use super::mock_openai::{is_title_request, last_user_text};
use super::opencode::{opencode_env, seed_opencode, wait_composer};
use super::pair::{AbgPair, pair_env};
use super::recorder::RecordedRequest;
use super::scenario::Scenario;
use super::tui::Tui;

/// The three agents of one pair, each in its own terminal.
pub struct AbgTrio {
    /// Codex and Claude, and the pair's env, control plane and `abg` runs.
    pub pair: AbgPair,
    pub opencode: Tui,
}

impl Drop for AbgTrio {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl AbgTrio {
    /// Seeds the three CLIs against their mocks (Responses for Codex,
    /// Messages for Claude, Chat Completions for OpenCode), starts Codex
    /// and Claude as [`AbgPair::start`] does, then `abg opencode` in the
    /// same environment, and waits for its composer and its attachment.
    /// `max_exchanges` sets the loop governor's limit
    /// (`ABG_GOVERNOR_MAX_EXCHANGES`); `None` keeps the default.
    pub async fn start(
        s: &Scenario,
        openai_base: &str,
        anthropic_base: &str,
        chat_base: &str,
        max_exchanges: Option<u32>,
    ) -> Result<Self> {
        s.env.seed_codex(openai_base, &CodexSeed::default())?;
        s.env
            .seed_claude(anthropic_base, &ClaudeSeed { channels: true })?;
        seed_opencode(s, chat_base)?;
        let mut env = pair_env(s)?;
        opencode_env(s, &mut env)?;
        if let Some(n) = max_exchanges {
            set_var(&mut env, "ABG_GOVERNOR_MAX_EXCHANGES", &n.to_string());
        }
        let pair = AbgPair::start_in(s, env).await?;
        let dir = pair.pair_dir.clone();
        s.diag.add_source("abg opencode server log", move || {
            tail_file(&dir.join("logs/opencode-server.log"), 40)
                .unwrap_or_else(|e| format!("({e})"))
        });
        let abg = Path::new(env!("CARGO_BIN_EXE_abg"));
        let opencode = s.tui("abg-opencode", abg, &["opencode"], &pair.env)?;
        let trio = Self { pair, opencode };
        wait_composer(&trio.opencode).await?;
        poll("OpenCode attached to the pair", WAIT, async || {
            let out = trio.pair.run_cli(&["status", "--json"])?;
            let status: serde_json::Value = serde_json::from_slice(&out.stdout)
                .with_context(|| String::from_utf8_lossy(&out.stderr).to_string())?;
            Ok((status["attached"]["opencode"] == true).then_some(()))
        })
        .await?;
        Ok(trio)
    }

    /// Stops OpenCode's terminal, then the pair. Idempotent.
    pub fn shutdown(&mut self) {
        self.opencode.stop();
        self.pair.shutdown();
    }
}

/// Every string under a `text` or `content` key, recursively (text blocks,
/// string contents, tool results).
pub fn texts_in(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                match x {
                    Value::String(s) if k == "text" || k == "content" => out.push(s.clone()),
                    _ => texts_in(x, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| texts_in(x, out)),
        _ => {}
    }
}

/// The `<channel source="abg" …>` blocks in a Claude request's new content
/// (the messages after the last assistant message): `(from, block)`.
pub fn claude_new_channels(body: &Value) -> Vec<(String, String)> {
    let messages = body["messages"].as_array().cloned().unwrap_or_default();
    let first_new = messages
        .iter()
        .rposition(|m| m["role"] == "assistant")
        .map_or(0, |i| i + 1);
    let mut texts = Vec::new();
    texts_in(&Value::Array(messages[first_new..].to_vec()), &mut texts);
    texts
        .iter()
        .flat_map(|t| t.split("<channel ").skip(1).map(str::to_string))
        .filter(|c| c.starts_with("source=\"abg\""))
        .filter_map(|c| {
            let from = c.split("from=\"").nth(1)?.split('"').next()?.to_string();
            Some((from, c))
        })
        .collect()
}

/// Claude model requests whose new content has a block from `from`
/// containing `needle`.
pub fn claude_got(reqs: &[RecordedRequest], from: &str, needle: &str) -> usize {
    reqs.iter()
        .filter(|r| r.path == "/v1/messages")
        .filter(|r| {
            claude_new_channels(&r.body)
                .iter()
                .any(|(f, c)| f == from && c.contains(needle))
        })
        .count()
}

/// Codex model turns whose last user text contains `needle`.
pub fn codex_turns_with(reqs: &[RecordedRequest], needle: &str) -> usize {
    reqs.iter()
        .filter(|r| r.path == "/v1/responses" && !is_title_request(&r.body))
        .filter(|r| last_user_text(&r.body).is_some_and(|t| t.contains(needle)))
        .count()
}

/// Whether any request a mock received carries `needle` anywhere.
pub fn anywhere(reqs: &[RecordedRequest], needle: &str) -> bool {
    reqs.iter().any(|r| r.body.to_string().contains(needle))
}

/// The stored messages whose body contains `needle`.
pub fn stored_with<'a>(msgs: &'a [Value], needle: &str) -> Vec<&'a Value> {
    msgs.iter()
        .filter(|m| m["body"].as_str().is_some_and(|b| b.contains(needle)))
        .collect()
}

/// Exactly one stored message carries `needle`: from `from` to `to`, its
/// body exactly `needle` (an address removed).
pub fn stored_once(msgs: &[Value], needle: &str, from: &str, to: &str) -> Result<()> {
    let found = stored_with(msgs, needle);
    ensure!(
        found.len() == 1,
        "{} stored messages carry {needle:?}: {found:#?}",
        found.len()
    );
    let m = found[0];
    ensure!(
        m["from"] == from && m["to"] == to && m["body"] == needle,
        "{needle:?} is stored as {m:#}, want from {from} to {to}"
    );
    Ok(())
}

/// The agents of a pair of three.
pub const AGENTS: [&str; 3] = ["claude", "codex", "opencode"];

/// Whether a stored message goes from one agent to another.
pub fn is_agent_to_agent(v: &Value) -> bool {
    let (from, to) = (v["from"].as_str(), v["to"].as_str());
    from != to && AGENTS.iter().any(|a| from == Some(a)) && AGENTS.iter().any(|a| to == Some(a))
}

/// Each message's id and whether it is held.
pub fn shape(run: &[Value]) -> Vec<(String, bool)> {
    run.iter()
        .map(|v| (v["id"].as_str().unwrap_or_default().to_string(), is_held(v)))
        .collect()
}
