//! `abg opencode` in the tmux driver, as the OpenCode e2e tests drive it:
//! start it against the Chat Completions mock (optionally with its own
//! arguments), find its pair dir and control port, read its server's
//! config behind the password, run `abg` commands in its environment, and
//! shut it down (TUI, then daemon and server, then anything left by pid).
//!
//! Why it exists: `tests/e2e_opencode.rs` and `tests/e2e_opencode_inbox.rs`
//! run the same agent the same way; one harness keeps them from drifting.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use serde_json::Value;

use super::abg_codex::abg_env;
use super::control::Control;
use super::env::Vars;
use super::mock_chat::MockChat;
use super::opencode::{opencode_env, pair_dir_in, seed_opencode, wait_composer};
use super::scenario::Scenario;
use super::tui::Tui;

/// `abg opencode` in tmux, and its pair.
pub struct AbgOpenCode {
    pub tui: Tui,
    pub env: Vars,
    pub state_dir: PathBuf,
    pub base_port: u16,
}

impl AbgOpenCode {
    pub async fn start(s: &Scenario, mock: &MockChat) -> Result<Self> {
        Self::start_with(s, mock, &[]).await
    }

    pub async fn start_with(s: &Scenario, mock: &MockChat, args: &[&str]) -> Result<Self> {
        seed_opencode(s, &mock.base_url())?;
        let (mut env, state_dir, base_port) = abg_env(s)?;
        opencode_env(s, &mut env)?;
        let abg = Path::new(env!("CARGO_BIN_EXE_abg"));
        let mut argv = vec!["opencode"];
        argv.extend_from_slice(args);
        let tui = s.tui("abg-opencode", abg, &argv, &env)?;
        let me = Self {
            tui,
            env,
            state_dir,
            base_port,
        };
        let dir = me.state_dir.clone();
        s.diag.add_source("abg daemon log", move || {
            let Some(pair) = pair_dir_in(&dir) else {
                return "(no pair dir)".into();
            };
            let mut out = String::new();
            for f in ["logs/daemon.log", "logs/opencode-server.log"] {
                let tail = super::diag::tail_file(&pair.join(f), 80).unwrap_or_default();
                out.push_str(&format!("--- {f}\n{tail}\n"));
            }
            out
        });
        wait_composer(&me.tui).await?;
        Ok(me)
    }

    pub fn pair_dir(&self) -> Result<PathBuf> {
        pair_dir_in(&self.state_dir).context("no pair dir")
    }

    pub fn control(&self) -> Result<Control> {
        let secret = std::fs::read_to_string(self.pair_dir()?.join("secret"))?;
        Ok(Control {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()?,
            port: self.base_port + 2,
            secret: secret.trim().to_string(),
        })
    }

    /// `GET /config` of the pair's OpenCode server, with its password.
    pub async fn server_config(&self) -> Result<Value> {
        let dir = self.pair_dir()?;
        let state: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("opencode-server.json"))?)?;
        let password = std::fs::read_to_string(dir.join("opencode.password"))?;
        let port = state["port"].as_u64().context("port")?;
        ensure!(
            port == u64::from(self.base_port) + 1,
            "the server is not on the pair's +1 port: {state}"
        );
        let http = reqwest::Client::builder().no_proxy().build()?;
        let url = format!("http://127.0.0.1:{port}/config");
        let anon = http.get(&url).send().await?.status();
        ensure!(
            anon == 401,
            "the server answered {anon} without the password"
        );
        Ok(http
            .get(&url)
            .basic_auth("opencode", Some(password.trim()))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    pub fn run_cli(&self, cwd: &Path, args: &[&str]) -> Result<std::process::Output> {
        Ok(std::process::Command::new(env!("CARGO_BIN_EXE_abg"))
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(std::process::Stdio::null())
            .output()?)
    }

    /// The pid recorded in the pair dir's `file` (`daemon.json`,
    /// `opencode-server.json`).
    pub fn pid_in(&self, file: &str) -> Result<i32> {
        let text = std::fs::read_to_string(self.pair_dir()?.join(file))?;
        let v: Value = serde_json::from_str(&text)?;
        Ok(i32::try_from(v["pid"].as_i64().context("pid")?)?)
    }

    /// The pids of the daemon and the server.
    pub fn pids(&self) -> Vec<i32> {
        ["daemon.json", "opencode-server.json"]
            .iter()
            .filter_map(|f| self.pid_in(f).ok())
            .collect()
    }

    /// Stops the TUI, then the daemon (which stops the server), then kills
    /// anything left by pid.
    pub async fn shutdown(mut self, s: &Scenario) -> Result<()> {
        self.tui.stop();
        let pids = self.pids();
        let _ = self.run_cli(&s.env.workdir, &["kill"]);
        super::procs::end_pids(&pids, Duration::from_secs(15)).await;
        Ok(())
    }
}

/// Waits for a stored message from OpenCode whose body contains `needle`.
pub async fn wait_answer(
    control: &Control,
    what: &str,
    timeout: Duration,
    needle: &str,
) -> Result<Value> {
    control
        .wait_message(what, timeout, |m| {
            m["from"] == "opencode" && m["body"].as_str().is_some_and(|b| b.contains(needle))
        })
        .await
}

/// Stored messages from OpenCode whose body contains `needle`.
pub fn answers_with<'a>(msgs: &'a [Value], needle: &str) -> Vec<&'a Value> {
    msgs.iter()
        .filter(|m| {
            m["from"] == "opencode" && m["body"].as_str().is_some_and(|b| b.contains(needle))
        })
        .collect()
}
