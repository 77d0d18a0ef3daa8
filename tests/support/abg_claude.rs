//! Driving `abg claude` end to end: the real pinned `claude` under abg's
//! PTY supervisor in a tmux pane, against the mock Messages API, with a
//! private abg state/config dir and port base per scenario; plus the
//! control-plane calls a test makes to the pair's daemon (inject a message
//! from Codex, list messages and their delivery states).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::WAIT;
use super::diag::wait_for_file_text;
use super::env::{ClaudeSeed, Vars, set_var};
use super::mock_anthropic::{MockAnthropic, has_tools, last_user_message};
use super::scenario::Scenario;
use super::tui::Tui;

/// The dev-channels dialog's preselected option.
pub const DEV_DIALOG: &str = "I am using this for local development";

/// A running `abg claude` and the pair's daemon.
pub struct AbgClaude {
    pub tui: Tui,
    pub env: Vars,
    pub state_dir: PathBuf,
    pub port: u16,
    pub secret: String,
    pub debug_log: PathBuf,
    workdir: PathBuf,
    http: reqwest::Client,
}

impl Drop for AbgClaude {
    fn drop(&mut self) {
        abg_kill(&self.env, &self.workdir);
        self.tui.stop();
    }
}

/// The daemon leaves the pane's session (setsid): stop it explicitly.
fn abg_kill(env: &Vars, workdir: &std::path::Path) {
    let _ = std::process::Command::new(abg_bin())
        .arg("kill")
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(workdir)
        .output();
}

/// Stops the pair's daemon if `start` fails half-way.
struct KillOnDrop {
    env: Vars,
    workdir: PathBuf,
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        abg_kill(&self.env, &self.workdir);
    }
}

/// How to start it.
pub struct Launch {
    /// Seed the channels flag cache (false: channels unavailable).
    pub channels: bool,
    pub doorbell_secs: u64,
    /// Install abg's Claude Code plugin (a copy of the repo's `plugin/`, as
    /// a local directory marketplace) in the hermetic Claude home first, and
    /// put `abg` on PATH (the plugin runs it by name).
    pub install_plugin: bool,
    /// `claude.channel` (ABG_CLAUDE_CHANNEL); `None` keeps the default, auto.
    pub channel: Option<&'static str>,
    /// The server whose channel verdict to wait for in Claude's debug log:
    /// `abg` (generated config) or `plugin:abg:abg` (the plugin).
    pub server: &'static str,
}

impl Default for Launch {
    fn default() -> Self {
        Self {
            channels: true,
            doorbell_secs: 10,
            install_plugin: false,
            channel: None,
            server: "abg",
        }
    }
}

/// Copy `from` into `to` (files and dirs only).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// `claude plugin marketplace add <copy of plugin/>` then `claude plugin
/// install abg@abg`, with Claude's hermetic environment (user scope).
pub fn install_plugin(s: &Scenario) -> Result<()> {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plugin");
    let copy = s.env.root.join("plugin-marketplace");
    copy_tree(&src, &copy)?;
    let abg_link = s.env.bin_dir.join("abg");
    if !abg_link.exists() {
        std::os::unix::fs::symlink(abg_bin(), &abg_link)?;
    }
    let claude = s.env.bin_dir.join("claude");
    let env = s.env.claude_env()?;
    let marketplace = copy.display().to_string();
    for args in [
        vec!["plugin", "marketplace", "add", marketplace.as_str()],
        vec!["plugin", "install", "abg@abg"],
    ] {
        let out = std::process::Command::new(&claude)
            .args(&args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&s.env.workdir)
            .stdin(std::process::Stdio::null())
            .output()
            .with_context(|| format!("running claude {}", args.join(" ")))?;
        if !out.status.success() {
            bail!(
                "claude {} failed ({}): {}{}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(())
}

/// Whether Claude's prompt is up: its footer shows the permission mode,
/// `bypass permissions on` by default; under `--safe` Claude's own mode
/// (`⏸ manual mode on`, `⏵⏵ auto mode on`, … on 2.1.330), or bypass, so a
/// test can say which mode it got.
fn prompt_ready(screen: &str, args: &[&str]) -> bool {
    screen.contains("bypass permissions on")
        || (args.contains(&"--safe") && screen.contains(" mode on"))
}

fn abg_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_abg"))
}

impl AbgClaude {
    /// Seeds Claude, starts `abg claude` in a pane, confirms the dev-channels
    /// dialog and waits for the prompt and for abg's channel verdict in the
    /// debug log.
    pub async fn start(s: &Scenario, mock: &MockAnthropic, launch: &Launch) -> Result<Self> {
        Self::start_with_args(s, mock, launch, &[]).await
    }

    /// [`AbgClaude::start`] for `abg claude <args>` (e.g. `--safe`).
    pub async fn start_with_args(
        s: &Scenario,
        mock: &MockAnthropic,
        launch: &Launch,
        args: &[&str],
    ) -> Result<Self> {
        s.env.seed_claude(
            &mock.base_url(),
            &ClaudeSeed {
                channels: launch.channels,
            },
        )?;
        if launch.install_plugin {
            install_plugin(s)?;
        }
        let state_dir = s.env.root.join("abg-state");
        let config_dir = s.env.root.join("abg-config");
        std::fs::create_dir_all(&config_dir)?;
        let mut env = s.env.launcher_env();
        for (k, v) in [
            ("ABG_STATE_DIR", state_dir.display().to_string()),
            ("ABG_CONFIG_DIR", config_dir.display().to_string()),
            ("ABG_BASE_PORT", super::ports::free_block(30).to_string()),
            ("ABG_CLAUDE_DOORBELL_SECS", launch.doorbell_secs.to_string()),
            ("ABG_DAEMON_IDLE_SHUTDOWN_MINUTES", "5".to_string()),
            ("ABG_LOG", "debug".to_string()),
        ] {
            set_var(&mut env, k, &v);
        }
        if let Some(channel) = launch.channel {
            set_var(&mut env, "ABG_CLAUDE_CHANNEL", channel);
        }
        let _daemon = KillOnDrop {
            env: env.clone(),
            workdir: s.env.workdir.clone(),
        };
        let mut argv = vec!["claude"];
        argv.extend_from_slice(args);
        let tui = s.tui("abg-claude", &abg_bin(), &argv, &env)?;
        let ready = |screen: &str| prompt_ready(screen, args);
        // Without the channels feature Claude shows no dev-channels dialog.
        let first = tui
            .wait_until("the dev-channels dialog or the prompt", WAIT, |screen| {
                screen.contains(DEV_DIALOG) || ready(screen)
            })
            .await?;
        if first.contains(DEV_DIALOG) {
            tui.press("Enter")?;
        }
        tui.wait_until(
            "the Claude prompt after the dev-channels dialog",
            WAIT,
            |screen| !screen.contains(DEV_DIALOG) && ready(screen),
        )
        .await?;
        let status = Self::status_json(s, &env)?;
        let port = status["control_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .context("control_port in abg status")?;
        let pair_dir = PathBuf::from(status["state_dir"].as_str().context("state_dir")?);
        let secret = std::fs::read_to_string(pair_dir.join("secret"))?
            .trim()
            .to_string();
        let debug_log = pair_dir.join("logs/claude-debug.log");
        s.diag.add_file("claude debug log (tail)", &debug_log, 30);
        s.diag.add_file(
            "abg daemon log (tail)",
            pair_dir.join("logs/daemon.log"),
            40,
        );
        let verdict = if launch.channels {
            format!(
                "MCP server \"{}\": Channel notifications registered",
                launch.server
            )
        } else {
            format!(
                "MCP server \"{}\": Channel notifications skipped",
                launch.server
            )
        };
        wait_for_file_text(&s.diag, &debug_log, &verdict, WAIT).await?;
        let http = reqwest::Client::builder().no_proxy().build()?;
        std::mem::forget(_daemon);
        Ok(Self {
            tui,
            env,
            state_dir: pair_dir,
            port,
            secret,
            debug_log,
            workdir: s.env.workdir.clone(),
            http,
        })
    }

    fn status_json(s: &Scenario, env: &Vars) -> Result<Value> {
        let out = std::process::Command::new(abg_bin())
            .args(["status", "--json"])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&s.env.workdir)
            .output()
            .context("running abg status --json")?;
        serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "abg status --json: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn control(&self) -> super::control::Control {
        super::control::Control {
            http: self.http.clone(),
            port: self.port,
            secret: self.secret.clone(),
        }
    }

    /// Runs `abg <args>` in the project to completion with this pair's
    /// environment.
    pub fn run_cli(&self, args: &[&str]) -> Result<std::process::Output> {
        Ok(std::process::Command::new(abg_bin())
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&self.workdir)
            .stdin(std::process::Stdio::null())
            .output()?)
    }

    /// Store a message from `from` to `to` through the control plane.
    pub async fn inject(&self, from: &str, to: &str, body: &str) -> Result<String> {
        self.control().inject(from, to, body).await
    }

    /// Every stored message (oldest first) with its delivery state.
    pub async fn messages(&self) -> Result<Vec<Value>> {
        self.control().messages().await
    }

    /// Ask the daemon to exit.
    pub async fn stop_daemon(&self) -> Result<()> {
        self.http
            .post(self.url("/v1/shutdown"))
            .header(
                "authorization",
                super::control::session(&self.http, self.port, &self.secret).await?,
            )
            .send()
            .await?;
        Ok(())
    }

    /// Injects each of `bodies` from Codex for Claude, waits until all are
    /// acknowledged, then checks that each reached Claude's model exactly
    /// once; returns the milliseconds to acknowledgement.
    pub async fn deliver_each_once(
        &self,
        s: &Scenario,
        mock: &MockAnthropic,
        bodies: &[String],
        timeout: Duration,
    ) -> Result<u128> {
        let t0 = Instant::now();
        let mut ids = Vec::new();
        for b in bodies {
            ids.push(self.inject("codex", "claude", b).await?);
        }
        self.wait_states(s, &ids, "acknowledged", timeout).await?;
        let all_ms = t0.elapsed().as_millis();
        // A quiet moment for a straggling duplicate turn to land before
        // counting (a negative check: nothing to wait for).
        tokio::time::sleep(Duration::from_secs(2)).await;
        let wrong: Vec<(usize, usize)> = bodies
            .iter()
            .enumerate()
            .map(|(i, b)| (i, times_delivered(mock, b)))
            .filter(|(_, n)| *n != 1)
            .collect();
        if !wrong.is_empty() {
            return Err(s.diag.with_report(format!(
                "messages not delivered exactly once (index, times): {wrong:?}"
            )));
        }
        Ok(all_ms)
    }

    /// Waits until every id in `ids` is in delivery state `state`.
    pub async fn wait_states(
        &self,
        s: &Scenario,
        ids: &[String],
        state: &str,
        timeout: Duration,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let msgs = self.messages().await?;
            let left: Vec<String> = ids
                .iter()
                .filter(|id| {
                    !msgs
                        .iter()
                        .any(|m| m["id"] == id.as_str() && m["state"] == state)
                })
                .cloned()
                .collect();
            if left.is_empty() {
                return Ok(());
            }
            if start.elapsed() > timeout {
                let states: Vec<String> = msgs
                    .iter()
                    .map(|m| format!("{} {}→{} {}", m["id"], m["from"], m["to"], m["state"]))
                    .collect();
                return Err(s.diag.with_report(format!(
                    "{} of {} messages not {state} after {timeout:?}: {left:?}\nstates: {states:#?}",
                    left.len(),
                    ids.len()
                )));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// All text of a request's last user message (text blocks and tool results).
pub fn last_user_texts(body: &Value) -> String {
    let Some(m) = last_user_message(body) else {
        return String::new();
    };
    match &m["content"] {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .iter()
            .map(|b| match b["type"].as_str() {
                Some("text") => b["text"].as_str().unwrap_or("").to_string(),
                Some("tool_result") => b["content"].to_string(),
                _ => String::new(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// How many tool-carrying model requests brought `needle` as new content.
pub fn times_delivered(mock: &MockAnthropic, needle: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path == "/v1/messages" && has_tools(&r.body))
        .filter(|r| last_user_texts(&r.body).contains(needle))
        .count()
}

/// The text of the tool result carrying `needle`, with its error flag.
pub fn tool_result_with(mock: &MockAnthropic, needle: &str) -> Option<(String, bool)> {
    mock.requests().iter().rev().find_map(|r| {
        r.body["messages"]
            .as_array()?
            .iter()
            .filter_map(|m| m["content"].as_array())
            .flatten()
            .filter(|b| b["type"] == "tool_result")
            .map(|b| {
                (
                    b["content"].to_string(),
                    b["is_error"].as_bool().unwrap_or(false),
                )
            })
            .find(|(t, _)| t.contains(needle))
    })
}
