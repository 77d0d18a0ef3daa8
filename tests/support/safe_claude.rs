//! A Claude Code permission dialog under `--safe`, for the scenarios
//! of `tests/e2e_safe_claude.rs`: the project's own settings asking for
//! manual approvals, a scripted turn whose Bash `touch` raises Claude's
//! dialog, and reads of what came of it (the dialog's inbox entry, the tool
//! results the model was sent).
//!
//! Why it exists: every Claude scenario there seeds, scripts and checks the
//! same way; kept here, the test file holds the scenarios themselves.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Result, ensure};
use serde_json::{Value, json};

use super::WAIT;
use super::abg_claude::AbgClaude;
use super::inbox::{approvals_args, approvals_json};
use super::mock_anthropic::{MockAnthropic, Step, has_tools};
use super::scenario::Scenario;

/// Claude Code 2.1.330's permission dialog for a Bash command.
pub const CLAUDE_DIALOG: &str = "Do you want to proceed?";
pub const CLAUDE_DIALOG_TITLE: &str = "Bash command";

/// The project's own Claude settings: manual approvals.
pub const MANUAL_PROJECT_SETTINGS: &str = r#"{"permissions": {"defaultMode": "default"}}"#;

/// Start the mock model; with `project_settings`, write them as the
/// project's `.claude/settings.json`.
pub async fn setup(s: &Scenario, project_settings: Option<&str>) -> Result<MockAnthropic> {
    let mock = MockAnthropic::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("anthropic mock requests", move || log.summary(40));
    if let Some(settings) = project_settings {
        let dir = s.env.workdir.join(".claude");
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("settings.json"), settings)?;
    }
    Ok(mock)
}

/// One scripted Claude turn: a Bash `touch` of a marker in the project.
pub struct Turn {
    pub human: String,
    pub path: PathBuf,
    pub command: String,
    pub done: String,
}

impl Turn {
    pub fn new(s: &Scenario, tag: &str) -> Self {
        let path = s.env.workdir.join(format!("abg-safe-{tag}"));
        Self {
            human: format!("please create the {tag} marker"),
            command: format!("touch {}", path.display()),
            path,
            done: format!("the {tag} marker is created"),
        }
    }

    /// The Bash call, then the answer.
    pub fn push_script(&self, mock: &MockAnthropic) {
        mock.push(Step::tool_use(
            "Bash",
            json!({"command": self.command, "description": "Create the marker file"}),
        ));
        mock.push(Step::text(&self.done));
    }
}

/// Tool-carrying model requests received from log position `since` on.
pub fn claude_turn_requests(mock: &MockAnthropic, since: usize) -> usize {
    mock.requests()
        .iter()
        .skip(since)
        .filter(|r| r.path == "/v1/messages" && has_tools(&r.body))
        .count()
}

/// The JSON of `abg approvals --json [--all]` for the Claude pair.
pub fn claude_approvals(abg: &AbgClaude, all: bool) -> Result<Value> {
    approvals_json(&abg.run_cli(&approvals_args(all))?)
}

/// The inbox entry of Claude's request whose input names `needle`, once it
/// is in state `state` (bounded by [`WAIT`]).
pub async fn claude_entry(abg: &AbgClaude, needle: &str, state: &str) -> Result<Value> {
    let start = Instant::now();
    loop {
        let list = claude_approvals(abg, true)?;
        let entry = list["approvals"].as_array().and_then(|a| {
            a.iter()
                .find(|x| {
                    x["peer"] == "claude"
                        && x["detail"]["input_preview"]
                            .as_str()
                            .is_some_and(|p| p.contains(needle))
                })
                .cloned()
        });
        if let Some(e) = &entry
            && e["state"] == state
        {
            return Ok(e.clone());
        }
        ensure!(
            start.elapsed() < WAIT,
            "no {state} inbox entry for {needle}: {list:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Starts the scripted turn `tag` and waits for Claude's permission dialog
/// and its pending inbox entry: the turn and the entry.
pub async fn claude_turn_pending(
    abg: &AbgClaude,
    s: &Scenario,
    mock: &MockAnthropic,
    tag: &str,
) -> Result<(Turn, Value)> {
    let turn = Turn::new(s, tag);
    turn.push_script(mock);
    abg.tui.type_text(&turn.human).await?;
    abg.tui
        .wait_until(&format!("Claude's permission dialog ({tag})"), WAIT, |sc| {
            sc.contains(CLAUDE_DIALOG) && sc.contains(&turn.command)
        })
        .await?;
    let entry = claude_entry(abg, &turn.command, "pending").await?;
    Ok((turn, entry))
}

/// What the model was told about tool call results, in order (the
/// `tool_result` blocks of every request, once per tool call).
pub fn claude_tool_results(mock: &MockAnthropic) -> Vec<Value> {
    let mut seen = Vec::new();
    for r in mock.requests() {
        let Some(msgs) = r.body["messages"].as_array() else {
            continue;
        };
        for m in msgs {
            for b in m["content"].as_array().into_iter().flatten() {
                if b["type"] == "tool_result"
                    && !seen
                        .iter()
                        .any(|x: &Value| x["tool_use_id"] == b["tool_use_id"])
                {
                    seen.push(b.clone());
                }
            }
        }
    }
    seen
}
