//! Driving a full pair: `abg codex` and `abg claude` in two tmux terminals
//! of the same project, sharing one pair daemon, plus the control-plane
//! reads and the `abg` runs a full-pair test makes.
//!
//! Why it exists: the per-agent helpers ([`super::abg_codex`],
//! [`super::abg_claude`]) each pick their own environment and port base,
//! which is right for one agent but would put the two halves of a pair on
//! different slots. Here both terminals (and every `abg` command the test
//! runs, such as `abg doctor`) get exactly one environment: one hermetic
//! home with both CLIs seeded against both mocks, one abg state dir, one
//! port base, and the default loop governor. Teardown stops both
//! terminals, then the daemon (`abg kill`), then kills leftovers by pid.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use serde_json::Value;

use super::WAIT;
use super::abg_claude::DEV_DIALOG;
use super::abg_codex::{abg_env, alive};
use super::diag::{tail_file, wait_for_file_text};
use super::env::{ClaudeSeed, CodexSeed, Vars};
use super::recorder::RecordedRequest;
use super::scenario::Scenario;
use super::tui::Tui;

/// Milliseconds since the epoch (the clock the store's `created_ms` uses).
pub fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// When a mock received `r`, in epoch ms, given the epoch ms at which the
/// mock was started (its log counts from its start).
pub fn received_ms(mock_started_ms: i64, r: &RecordedRequest) -> i64 {
    mock_started_ms + i64::try_from(r.at.as_millis()).unwrap_or(0)
}

/// The environment of a full pair's terminals (both CLIs seeded first):
/// the scenario's abg env with the default loop governor.
pub fn pair_env(s: &Scenario) -> Result<Vars> {
    let (mut env, _state, _base) = abg_env(s)?;
    env.retain(|(k, _)| k != "ABG_GOVERNOR_MAX_EXCHANGES");
    Ok(env)
}

/// Both agents of one pair, each in its own terminal.
pub struct AbgPair {
    pub codex: Tui,
    pub claude: Tui,
    /// The environment of both terminals and of [`AbgPair::run_cli`].
    pub env: Vars,
    /// `<state>/pairs/<id>`.
    pub pair_dir: PathBuf,
    pub control_port: u16,
    secret: String,
    workdir: PathBuf,
    http: reqwest::Client,
    stopped: bool,
}

impl Drop for AbgPair {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Runs `abg kill` when dropped (a start that fails half-way).
struct KillGuard<'a> {
    env: &'a Vars,
    workdir: &'a Path,
}

impl Drop for KillGuard<'_> {
    fn drop(&mut self) {
        let _ = run_abg(self.env, self.workdir, &["kill"]);
    }
}

fn run_abg(env: &Vars, cwd: &Path, args: &[&str]) -> Result<std::process::Output> {
    std::process::Command::new(env!("CARGO_BIN_EXE_abg"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running abg {}", args.join(" ")))
}

impl AbgPair {
    /// Seeds both CLIs against the mocks, starts `abg codex` (waits for its
    /// connected composer), then `abg claude` (confirms the dev-channels
    /// dialog, waits for the prompt and for the channel registration in
    /// Claude's debug log).
    pub async fn start(s: &Scenario, openai_base: &str, anthropic_base: &str) -> Result<Self> {
        s.env.seed_codex(openai_base, &CodexSeed::default())?;
        s.env
            .seed_claude(anthropic_base, &ClaudeSeed { channels: true })?;
        // After both seeds, so the environment carries both CLIs' variables.
        let env = pair_env(s)?;
        Self::start_in(s, env).await
    }

    /// Starts `abg codex`, then `abg claude` (as [`AbgPair::start`] does)
    /// with `env`, both CLIs already seeded: for a pair with more agents.
    pub async fn start_in(s: &Scenario, env: Vars) -> Result<Self> {
        let workdir = s.env.workdir.clone();
        let guard = KillGuard {
            env: &env,
            workdir: &workdir,
        };
        let abg = Path::new(env!("CARGO_BIN_EXE_abg"));

        let codex = s.tui("abg-codex", abg, &["codex"], &env)?;
        codex
            .wait_until("the connected Codex composer", WAIT, |screen| {
                screen.contains("Ask Codex to do anything") && screen.contains("permissions:")
            })
            .await?;

        let claude = s.tui("abg-claude", abg, &["claude"], &env)?;
        let first = claude
            .wait_until("the dev-channels dialog or the prompt", WAIT, |screen| {
                screen.contains(DEV_DIALOG) || screen.contains("bypass permissions on")
            })
            .await?;
        if first.contains(DEV_DIALOG) {
            claude.press("Enter")?;
        }
        claude
            .wait_until("the Claude prompt after the dialog", WAIT, |screen| {
                !screen.contains(DEV_DIALOG) && screen.contains("bypass permissions on")
            })
            .await?;

        let out = run_abg(&env, &workdir, &["status", "--json"])?;
        let status: Value = serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "abg status --json: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        let control_port = status["control_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .context("control_port in abg status")?;
        let pair_dir = PathBuf::from(status["state_dir"].as_str().context("state_dir")?);
        let secret = std::fs::read_to_string(pair_dir.join("secret"))?
            .trim()
            .to_string();
        register_logs(s, &pair_dir);
        wait_for_file_text(
            &s.diag,
            &pair_dir.join("logs/claude-debug.log"),
            "MCP server \"abg\": Channel notifications registered",
            WAIT,
        )
        .await?;
        std::mem::forget(guard);
        Ok(Self {
            codex,
            claude,
            env,
            pair_dir,
            control_port,
            secret,
            workdir,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()?,
            stopped: false,
        })
    }

    /// Runs `abg <args>` to completion in the project, with the pair's env.
    pub fn run_cli(&self, args: &[&str]) -> Result<std::process::Output> {
        run_abg(&self.env, &self.workdir, args)
    }

    fn control(&self) -> Result<super::control::Control> {
        Ok(super::control::Control {
            http: self.http.clone(),
            port: self.control_port,
            secret: self.secret.clone(),
        })
    }

    /// Every stored message, oldest first, with its delivery state.
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

    /// Ends the session: stops both terminals (and everything they
    /// started), leaving the daemon up.
    pub fn stop_terminals(&mut self) {
        self.codex.stop();
        self.claude.stop();
    }

    /// Stops both terminals, then the daemon and its app-server (and an
    /// OpenCode server, if the pair has one). Idempotent.
    pub fn shutdown(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        self.stop_terminals();
        let pids: Vec<i32> = [
            "daemon.json",
            "codex-appserver.json",
            "opencode-server.json",
        ]
        .iter()
        .filter_map(|f| pid_in(&self.pair_dir.join(f)))
        .collect();
        let _ = self.run_cli(&["kill"]);
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end && pids.iter().any(|p| alive(*p)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        for p in pids.into_iter().filter(|p| alive(*p)) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// The `pid` of one of the pair's JSON state files.
fn pid_in(path: &Path) -> Option<i32> {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["pid"].as_i64().and_then(|p| i32::try_from(p).ok())
}

fn register_logs(s: &Scenario, pair_dir: &Path) {
    let dir = pair_dir.to_path_buf();
    s.diag.add_source("abg pair logs", move || {
        let mut out = String::new();
        for (f, n) in [
            ("logs/daemon.log", 60),
            ("logs/daemon.stderr.log", 20),
            ("logs/codex-app-server.log", 20),
            ("logs/claude-debug.log", 30),
        ] {
            let tail = tail_file(&dir.join(f), n).unwrap_or_else(|e| format!("({e})"));
            out.push_str(&format!("--- {f}\n{tail}\n"));
        }
        out
    });
}
