//! A Codex approval under `--safe`, for the scenarios that answer one
//! (`tests/e2e_safe.rs`, the web UI's approvals panel): the user's own
//! Codex config asking for approvals on request, and a scripted turn whose
//! escalated command raises Codex's approval overlay (the recipe
//! `tests/e2e_safe.rs` explains: the workspace sandbox keeps `.codex/`
//! read-only, so the plain `touch` fails and the model retries it with
//! `require_escalated`).
//!
//! Also what `tests/e2e_safe.rs` checks such turns with: what Codex told
//! the model (its permissions, the command outputs), the turn's entry in
//! abg's approvals inbox, the pair's daemon killed under a pending approval,
//! and the thread that daemon records for `abg codex` to resume.
//!
//! Why it exists: the Codex scenarios all seed, script and check the same
//! way; kept here, their test file holds the scenarios themselves.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use super::WAIT;
use super::abg_codex::AbgCodex;
use super::env::CodexSeed;
use super::inbox::{approvals_args, approvals_json};
use super::mock_openai::{MockOpenAi, Step, is_title_request, user_texts};
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

/// The first model request of the turn that carries `human`.
pub fn codex_turn_request(mock: &MockOpenAi, human: &str) -> Result<Value> {
    mock.requests()
        .into_iter()
        .find(|r| {
            r.path == "/v1/responses"
                && !is_title_request(&r.body)
                && user_texts(&r.body)
                    .last()
                    .is_some_and(|t| t.contains(human))
        })
        .map(|r| r.body)
        .with_context(|| format!("no model request for the turn {human:?}"))
}

/// The last `<permissions instructions>` Codex put in a request: what the
/// model is told about approvals and the sandbox for this turn.
pub fn codex_permissions(body: &Value) -> String {
    let mut last = String::new();
    for item in body["input"].as_array().into_iter().flatten() {
        for part in item["content"].as_array().into_iter().flatten() {
            if let Some(t) = part["text"].as_str()
                && t.contains("<permissions instructions>")
            {
                last = t.to_string();
            }
        }
    }
    last
}

/// The turn's model request carries the earlier turn `first` (same thread).
pub fn ensure_on_thread_of(mock: &MockOpenAi, turn: &Turn, first: &str) -> Result<()> {
    ensure!(
        user_texts(&codex_turn_request(mock, &turn.human)?)
            .iter()
            .any(|t| t.contains(first)),
        "the turn {:?} is not on the thread of {first:?}",
        turn.human
    );
    Ok(())
}

/// What Codex reports of a command that ran and succeeded.
pub const RAN: &str = "Process exited with code 0";

/// Codex sent back two outputs for `turn`'s command (the sandbox's refusal
/// of the plain attempt, then the answered escalation), the second holding
/// `second`; else `what` fails.
pub fn ensure_answered(mock: &MockOpenAi, turn: &Turn, second: &str, what: &str) -> Result<()> {
    let outputs = outputs(mock, &turn.rel);
    ensure!(
        outputs.len() == 2 && outputs[1].contains(second),
        "{what}: {outputs:#?}"
    );
    Ok(())
}

/// The JSON of `abg approvals --json [--all]` for the Codex pair.
pub fn codex_approvals(abg: &AbgCodex, s: &Scenario, all: bool) -> Result<Value> {
    approvals_json(&abg.run_cli(&s.env.workdir, &approvals_args(all))?)
}

/// Starts the scripted turn `tag` and waits for its approval overlay and
/// pending inbox entry: the turn and the entry's id.
pub async fn codex_turn_pending(
    abg: &AbgCodex,
    s: &Scenario,
    mock: &MockOpenAi,
    tag: &str,
) -> Result<(Turn, String)> {
    let turn = Turn::new(s, tag);
    turn.push_script(mock);
    abg.tui.type_text(&turn.human).await?;
    let id = codex_pending(abg, s, &turn).await?;
    Ok((turn, id))
}

/// Waits for `turn`'s approval overlay and its pending inbox entry; its id.
pub async fn codex_pending(abg: &AbgCodex, s: &Scenario, turn: &Turn) -> Result<String> {
    let command = format!("$ touch {}", turn.rel);
    abg.tui
        .wait_until("Codex's approval prompt", WAIT, |sc| {
            sc.contains(CODEX_APPROVAL) && sc.contains(&command)
        })
        .await?;
    let start = Instant::now();
    loop {
        let list = codex_approvals(abg, s, false)?;
        let found = list["approvals"].as_array().and_then(|a| {
            a.iter().find(|x| {
                x["state"] == "pending"
                    && x["peer"] == "codex"
                    && x["detail"]["command"]
                        .as_str()
                        .is_some_and(|c| c.contains(&turn.rel))
            })
        });
        if let Some(found) = found {
            return Ok(found["id"].as_str().unwrap_or_default().to_string());
        }
        ensure!(
            start.elapsed() < WAIT,
            "the approval request never reached the inbox: {list:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The inbox entry `id` as it is now (`null` when there is none).
pub fn codex_entry(abg: &AbgCodex, s: &Scenario, id: &str) -> Result<Value> {
    let all = codex_approvals(abg, s, true)?;
    Ok(all["approvals"]
        .as_array()
        .and_then(|a| a.iter().find(|x| x["id"] == id))
        .cloned()
        .unwrap_or_default())
}

/// The inbox entry `id` once it is in `state` (bounded by [`WAIT`]).
pub async fn codex_entry_in(abg: &AbgCodex, s: &Scenario, id: &str, state: &str) -> Result<Value> {
    let start = Instant::now();
    loop {
        let entry = codex_entry(abg, s, id)?;
        if entry["state"] == state {
            return Ok(entry);
        }
        ensure!(
            start.elapsed() < WAIT,
            "inbox entry {id} never became {state}: {entry:#}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Kills the pair's daemon with SIGKILL; its pid.
pub fn sigkill_daemon(abg: &AbgCodex) -> Result<i32> {
    let daemon = abg.pid_in("daemon.json")?;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    Ok(daemon)
}

/// Kills the pair's daemon with SIGKILL and waits for `abg codex` to bring
/// a new one up.
pub async fn kill_daemon(abg: &AbgCodex) -> Result<()> {
    let daemon = sigkill_daemon(abg)?;
    let start = Instant::now();
    loop {
        let status = abg.wait_daemon(WAIT).await?;
        if status["pid"].as_i64() != Some(i64::from(daemon)) {
            return Ok(());
        }
        ensure!(start.elapsed() < WAIT, "the daemon was not restarted");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The pair's current thread as the daemon recorded it for `abg codex`
/// (id and the permission mode it was started in), once its rollout exists.
pub async fn recorded_thread(abg: &AbgCodex) -> Result<(String, String)> {
    let file = abg.pair_dir()?.join("codex-thread.json");
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Ok(v) = serde_json::from_str::<Value>(&text)
            && let (Some(id), Some(path)) = (v["thread_id"].as_str(), v["path"].as_str())
            && Path::new(path).exists()
        {
            return Ok((id.to_string(), v["mode"].as_str().unwrap_or("").to_string()));
        }
        ensure!(
            start.elapsed() < WAIT,
            "the daemon recorded no resumable thread in {}",
            file.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the daemon follows a thread other than `old`.
pub async fn new_thread(abg: &AbgCodex, old: &str) -> Result<(String, String)> {
    let start = Instant::now();
    loop {
        let (id, mode) = recorded_thread(abg).await?;
        if id != old {
            return Ok((id, mode));
        }
        ensure!(start.elapsed() < WAIT, "the daemon still follows {old}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The running TUI resumed `thread` and carries no permission flag.
pub fn ensure_resumed(abg: &AbgCodex, thread: &str) -> Result<()> {
    let argv = abg.tui_argv()?;
    let words: Vec<&str> = argv.split_whitespace().collect();
    ensure!(
        words.get(1) == Some(&"resume") && words.last() == Some(&thread),
        "not a resume of {thread}: {argv}"
    );
    ensure!(!argv.contains("--yolo"), "resume with --yolo: {argv}");
    Ok(())
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
