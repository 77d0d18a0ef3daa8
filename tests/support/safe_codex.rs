//! A Codex approval under `--safe`, for the scenarios that answer one
//! (`tests/e2e_safe.rs`, the web UI's approvals panel): the user's own
//! Codex config asking for
//! approvals on request, and a scripted turn whose escalated command raises
//! Codex's approval overlay (the recipe `tests/e2e_safe.rs` explains: the
//! workspace sandbox keeps `.codex/` read-only, so the plain `touch` fails
//! and the model retries it with `require_escalated`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::{Value, json};

use super::env::CodexSeed;
use super::mock_openai::{MockOpenAi, Step, is_title_request};
use super::scenario::Scenario;

/// Codex 0.169.0's command approval overlay.
pub const CODEX_APPROVAL: &str = "Would you like to run the following command?";

/// Start the mock model and seed the user's Codex config with approvals on
/// request and Codex's default sandbox; the project gets a `.codex/` dir.
pub async fn setup(s: &Scenario) -> Result<MockOpenAi> {
    let mock = MockOpenAi::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("openai mock requests", move || log.summary(40));
    let seed = CodexSeed {
        approval_policy: "on-request".into(),
        sandbox_mode: String::new(),
        extra_toml: String::new(),
    };
    s.env.seed_codex(&mock.base_url(), &seed)?;
    std::fs::create_dir_all(s.env.workdir.join(".codex"))?;
    Ok(mock)
}

/// One scripted Codex turn that wants `.codex/<marker>` to exist.
pub struct Turn {
    pub human: String,
    /// The marker, relative to the project (as the command names it).
    pub rel: String,
    pub path: PathBuf,
    pub done: String,
}

impl Turn {
    pub fn new(s: &Scenario, tag: &str) -> Self {
        let rel = format!(".codex/abg-safe-{tag}");
        Self {
            human: format!("please create the {tag} marker"),
            path: s.env.workdir.join(&rel),
            rel,
            done: format!("the {tag} marker is handled"),
        }
    }

    /// The plain command, its escalated retry (the approval), the answer.
    pub fn push_script(&self, mock: &MockOpenAi) {
        let cmd = format!("touch {}", self.rel);
        mock.push(Step::exec_command(&cmd));
        mock.push(Step::function_call(
            "exec_command",
            &json!({
                "cmd": cmd,
                "sandbox_permissions": "require_escalated",
                "justification": "Do you want me to create the marker file in .codex?",
            }),
        ));
        mock.push(Step::text(&self.done));
    }
}

/// The outputs Codex sent back for the function calls whose arguments name
/// `needle`, in call order (calls without an output yet are left out).
pub fn outputs(mock: &MockOpenAi, needle: &str) -> Vec<String> {
    let names = |i: &Value| {
        i["type"] == "function_call" && i["arguments"].as_str().is_some_and(|a| a.contains(needle))
    };
    let requests = mock.requests();
    let Some(items) = requests
        .iter()
        .rev()
        .filter(|r| r.path == "/v1/responses" && !is_title_request(&r.body))
        .filter_map(|r| r.body["input"].as_array())
        .find(|items| items.iter().any(names))
    else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|i| names(i))
        .filter_map(|call| {
            items
                .iter()
                .find(|o| o["type"] == "function_call_output" && o["call_id"] == call["call_id"])
                .map(|o| match &o["output"] {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
        })
        .collect()
}

/// Wait until `path` exists.
pub async fn wait_file(path: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > timeout {
            bail!("{} did not appear within {timeout:?}", path.display());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}
