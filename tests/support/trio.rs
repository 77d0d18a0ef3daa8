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

use std::path::Path;

use anyhow::{Context, Result};

use super::WAIT;
use super::diag::tail_file;
use super::env::set_var;
use super::env::{ClaudeSeed, CodexSeed};
use super::governor::poll;
use super::opencode::{opencode_env, seed_opencode, wait_composer};
use super::pair::{AbgPair, pair_env};
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
