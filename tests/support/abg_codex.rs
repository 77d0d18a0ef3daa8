//! Driving the real `abg codex` (the built binary) in the tmux driver, and
//! talking to its pair daemon's control plane from the test.
//!
//! Why it exists: the Codex-side acceptance tests run abg exactly as a user
//! would (`abg codex` in a terminal, with its own daemon and app-server)
//! inside the scenario's hermetic tree, then enqueue messages through the
//! authenticated control plane and read the store back through it. Each
//! test gets private state and config dirs and a free port block; teardown
//! shuts the daemon down (which stops the app-server) and kills leftovers
//! by pid so the stray-process check stays meaningful.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::env::{Vars, set_var};
use super::scenario::Scenario;
use super::tui::Tui;

/// `abg codex` running in tmux, plus handles on its pair.
pub struct AbgCodex {
    pub tui: Tui,
    pub env: Vars,
    pub state_dir: PathBuf,
    pub base_port: u16,
    /// Whether the running `abg codex` got `--safe` (no YOLO header then).
    safe: bool,
    http: reqwest::Client,
}

/// The environment `abg` runs with in a scenario.
pub fn abg_env(s: &Scenario) -> Result<(Vars, PathBuf, u16)> {
    let state = s.env.root.join("abg-state");
    let config = s.env.root.join("abg-config");
    std::fs::create_dir_all(&state)?;
    std::fs::create_dir_all(&config)?;
    let base = super::ports::free_block(30);
    let mut env = s.env.launcher_env();
    set_var(&mut env, "ABG_STATE_DIR", &state.to_string_lossy());
    set_var(&mut env, "ABG_CONFIG_DIR", &config.to_string_lossy());
    set_var(&mut env, "ABG_BASE_PORT", &base.to_string());
    set_var(&mut env, "ABG_LOG", "debug");
    // The loop governor is not under test here (bursts come from "claude").
    set_var(&mut env, "ABG_GOVERNOR_MAX_EXCHANGES", "0");
    set_var(&mut env, "RUST_BACKTRACE", "1");
    Ok((env, state, base))
}

impl AbgCodex {
    /// Starts `abg codex [args]` and waits for the connected composer.
    pub async fn start(s: &Scenario, args: &[&str]) -> Result<Self> {
        Self::start_with_env(s, args, &[]).await
    }

    /// [`AbgCodex::start`] with extra environment variables (kept for
    /// every later `abg` run of the test).
    pub async fn start_with_env(
        s: &Scenario,
        args: &[&str],
        extra: &[(&str, &str)],
    ) -> Result<Self> {
        let (mut env, state_dir, base_port) = abg_env(s)?;
        for (k, v) in extra {
            set_var(&mut env, k, v);
        }
        let abg = Path::new(env!("CARGO_BIN_EXE_abg"));
        let mut argv = vec!["codex"];
        argv.extend_from_slice(args);
        let tui = s.tui("abg-codex", abg, &argv, &env)?;
        let me = Self {
            tui,
            env,
            state_dir,
            base_port,
            safe: args.contains(&"--safe"),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(70))
                .build()?,
        };
        me.register_logs(s);
        me.wait_composer(super::WAIT).await?;
        Ok(me)
    }

    fn register_logs(&self, s: &Scenario) {
        let dir = self.state_dir.clone();
        s.diag.add_source("abg daemon log", move || {
            let Some(pair) = pair_dir_in(&dir) else {
                return "(no pair dir)".into();
            };
            let mut out = String::new();
            for f in [
                "logs/daemon.log",
                "logs/daemon.stderr.log",
                "logs/codex-app-server.log",
            ] {
                let tail = super::diag::tail_file(&pair.join(f), 60).unwrap_or_default();
                out.push_str(&format!("--- {f}\n{tail}\n"));
            }
            out
        });
    }

    /// Runs `abg <args>` to completion with this pair's environment.
    pub fn run_cli(&self, cwd: &Path, args: &[&str]) -> Result<std::process::Output> {
        Ok(std::process::Command::new(env!("CARGO_BIN_EXE_abg"))
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(std::process::Stdio::null())
            .output()?)
    }

    /// Waits for Codex's composer with a connected header. Under `--safe`
    /// the header has no `permissions:` line (0.169.0): the status line
    /// with the seeded model stands for "connected" then.
    pub async fn wait_composer(&self, timeout: Duration) -> Result<()> {
        let connected = if self.safe { "GPT-5.5" } else { "permissions:" };
        self.tui
            .wait_until("the connected Codex composer", timeout, |screen| {
                screen.contains("Ask Codex to do anything") && screen.contains(connected)
            })
            .await
            .map(|_| ())
    }

    /// Quits the Codex TUI the way a user does (`/quit`), and waits for
    /// `abg codex` to exit with 0. The pair's daemon keeps running.
    pub async fn quit(&self) -> Result<()> {
        self.tui.type_text("/quit").await?;
        // The first Enter may only complete the slash-command popup. Codex
        // prints its token usage as it quits (0.169.0).
        let quitting = self
            .tui
            .wait_until("Codex to quit", Duration::from_secs(1), |s| {
                s.contains(super::tui::EXIT_MARKER) || s.contains("Token usage so far")
            })
            .await;
        if quitting.is_err() {
            self.tui.press("Enter")?;
        }
        let screen = self
            .tui
            .wait_for(super::tui::EXIT_MARKER, super::WAIT)
            .await?;
        if !screen.contains(&format!("{}0", super::tui::EXIT_MARKER)) {
            bail!("abg codex did not exit with 0 after /quit:\n{screen}");
        }
        Ok(())
    }

    /// Runs `abg codex [args]` again for the same pair, in a new pane
    /// `name` (the previous one is stopped first), and waits for the
    /// composer.
    pub async fn relaunch(&mut self, s: &Scenario, name: &str, args: &[&str]) -> Result<()> {
        self.tui.stop();
        let abg = Path::new(env!("CARGO_BIN_EXE_abg"));
        let mut argv = vec!["codex"];
        argv.extend_from_slice(args);
        self.tui = s.tui(name, abg, &argv, &self.env)?;
        self.safe = args.contains(&"--safe");
        self.wait_composer(super::WAIT).await
    }

    /// The command line of the real Codex TUI `abg codex` is running (the
    /// process with `--remote-auth-token-env` under the test's tree).
    pub fn tui_argv(&self) -> Result<String> {
        let root = self.state_dir.parent().context("no test root")?;
        super::procs::referencing(root)
            .into_iter()
            .map(|p| p.cmdline)
            .find(|c| c.contains("--remote-auth-token-env"))
            .context("no running Codex TUI with --remote-auth-token-env")
    }

    /// The pair's state dir (`<state>/pairs/<id>`).
    pub fn pair_dir(&self) -> Result<PathBuf> {
        pair_dir_in(&self.state_dir).context("the pair's state dir does not exist")
    }

    pub fn control_port(&self) -> u16 {
        self.base_port + 2
    }

    pub fn app_port(&self) -> u16 {
        self.base_port
    }

    fn secret(&self) -> Result<String> {
        Ok(std::fs::read_to_string(self.pair_dir()?.join("secret"))?
            .trim()
            .to_string())
    }

    /// A pid from one of the pair's JSON files (`daemon.json`, …).
    pub fn pid_in(&self, file: &str) -> Result<i32> {
        let text = std::fs::read_to_string(self.pair_dir()?.join(file))
            .with_context(|| format!("reading {file}"))?;
        let v: Value = serde_json::from_str(&text)?;
        v["pid"]
            .as_i64()
            .and_then(|p| i32::try_from(p).ok())
            .with_context(|| format!("{file} has no pid: {text}"))
    }

    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let resp = req
            .header(
                "authorization",
                super::control::session(&self.http, self.control_port(), &self.secret()?).await?,
            )
            .header(
                abg::control::protocol::PROTOCOL_HEADER,
                abg::control::protocol::PROTOCOL_VERSION.to_string(),
            )
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("control plane answered {status}: {body}");
        }
        Ok(body)
    }

    /// `POST /v1/messages?wait_ms=N` from Claude to Codex.
    pub async fn send(&self, body: &str, on_busy: Option<&str>, wait_ms: u64) -> Result<Value> {
        let mut msg = json!({"from": "claude", "to": "codex", "body": body});
        if let Some(p) = on_busy {
            msg["on_busy"] = json!(p);
        }
        let url = format!(
            "http://127.0.0.1:{}/v1/messages?wait_ms={wait_ms}",
            self.control_port()
        );
        self.call(self.http.post(url).json(&msg)).await
    }

    fn control(&self) -> Result<super::control::Control> {
        Ok(super::control::Control {
            http: self.http.clone(),
            port: self.control_port(),
            secret: self.secret()?,
        })
    }

    /// Every stored message, oldest first.
    pub async fn messages(&self) -> Result<Vec<Value>> {
        self.control()?.messages().await
    }

    /// Waits until a stored message satisfies `pred`; returns it.
    pub async fn wait_message(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        self.control()?.wait_message(what, timeout, pred).await
    }

    /// Waits until the daemon answers its status (after a respawn).
    pub async fn wait_daemon(&self, timeout: Duration) -> Result<Value> {
        let end = Instant::now() + timeout;
        loop {
            let url = format!("http://127.0.0.1:{}/v1/status", self.control_port());
            if let Ok(v) = self.call(self.http.get(url)).await {
                return Ok(v);
            }
            if Instant::now() >= end {
                bail!("the daemon did not come back within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the daemon sees Codex's turn idle (`abg status`'s
    /// `peers.codex.view.turn`): an agent message can be stored a moment before its
    /// turn's `turn/completed` arrives.
    pub async fn wait_turn_idle(&self, timeout: Duration) -> Result<()> {
        let end = Instant::now() + timeout;
        loop {
            let status = self.wait_daemon(timeout).await?;
            let view = &status["peers"]["codex"]["view"];
            if view["turn"] == "idle" {
                return Ok(());
            }
            if Instant::now() >= end {
                bail!("Codex's turn is not idle after {timeout:?}: {view}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the TUI, then the daemon (which stops the app-server), then
    /// kills anything left by pid.
    pub async fn shutdown(mut self) -> Result<()> {
        self.tui.stop();
        let pids: Vec<i32> = ["daemon.json", "codex-appserver.json"]
            .iter()
            .filter_map(|f| self.pid_in(f).ok())
            .collect();
        let url = format!("http://127.0.0.1:{}/v1/shutdown", self.control_port());
        let _ = self.call(self.http.post(url)).await;
        super::procs::end_pids(&pids, Duration::from_secs(10)).await;
        Ok(())
    }
}

pub fn alive(pid: i32) -> bool {
    super::procs::is_alive(pid)
}

fn pair_dir_in(state: &Path) -> Option<PathBuf> {
    std::fs::read_dir(state.join("pairs"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("secret").exists())
}
