//! Helpers of the quota-relay end-to-end tests (`tests/e2e_budget.rs`,
//! issue 7): rate-limit headers with a chosen reset time for both mocks,
//! the pair's user config file, `abg …--json` runs and polls, counting
//! model requests that carry a text, and `abg claude` started with the
//! test-only subscription-style auth of `claude-code.md` §14 (no
//! `ANTHROPIC_API_KEY`; `ANTHROPIC_AUTH_TOKEN` = an unsigned JWT whose
//! `aud` is `claude-gateway`), under which Claude 2.1.330 honours the
//! mock's `anthropic-ratelimit-unified-*` headers and hands `rate_limits`
//! to its statusline command.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::WAIT;
use super::abg_claude::DEV_DIALOG;
use super::diag::wait_for_file_text;
use super::env::{Vars, set_var};
use super::mock_anthropic::MockAnthropic;
use super::recorder::RecordedRequest;
use super::scenario::Scenario;
use super::tui::Tui;

/// Unix seconds now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Epoch ms now.
pub fn epoch_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `x-codex-*` headers: a 300-minute primary window at `primary_pct`
/// resetting at `reset_at` (Unix s), and a quiet weekly secondary.
pub fn codex_headers(primary_pct: f64, reset_at: u64) -> Vec<(String, String)> {
    [
        ("x-codex-primary-used-percent", primary_pct.to_string()),
        ("x-codex-primary-window-minutes", "300".into()),
        ("x-codex-primary-reset-at", reset_at.to_string()),
        ("x-codex-secondary-used-percent", "10".into()),
        ("x-codex-secondary-window-minutes", "10080".into()),
        (
            "x-codex-secondary-reset-at",
            (unix_now() + 86_400).to_string(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `anthropic-ratelimit-unified-*` headers: the 5-hour window at
/// `five_hour` (a fraction, 0.42 = 42 %) resetting at `reset_at`, and a
/// quiet 7-day window.
pub fn claude_headers(five_hour: f64, reset_at: u64) -> Vec<(String, String)> {
    let p = "anthropic-ratelimit-unified";
    let week = (unix_now() + 86_400).to_string();
    vec![
        (format!("{p}-status"), "allowed".into()),
        (format!("{p}-reset"), reset_at.to_string()),
        (format!("{p}-5h-utilization"), five_hour.to_string()),
        (format!("{p}-5h-reset"), reset_at.to_string()),
        (format!("{p}-5h-status"), "allowed".into()),
        (format!("{p}-7d-utilization"), "0.1".into()),
        (format!("{p}-7d-reset"), week),
        (format!("{p}-7d-status"), "allowed".into()),
    ]
}

/// Writes the user config file abg reads from `$ABG_CONFIG_DIR` (the
/// scenario's `abg-config`), so the daemon gets the same settings however
/// it is (re)started.
pub fn write_user_config(s: &Scenario, toml: &str) -> Result<()> {
    let dir = s.env.root.join("abg-config");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("config.toml"), toml)?;
    Ok(())
}

/// Runs `abg <args>` (ending in `--json`) with `env` in `cwd`; its JSON.
pub fn abg_json(env: &Vars, cwd: &Path, args: &[&str]) -> Result<Value> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_abg"))
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| format!("running abg {args:?}"))?;
    serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "abg {args:?} ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// Polls `abg budget --json` until `pred` holds; returns that report.
pub async fn wait_budget(
    env: &Vars,
    cwd: &Path,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Result<Value> {
    let end = Instant::now() + timeout;
    loop {
        let last = match abg_json(env, cwd, &["budget", "--json"]) {
            Ok(v) if pred(&v) => return Ok(v),
            Ok(v) => v,
            Err(e) => json!(format!("{e:#}")),
        };
        if Instant::now() >= end {
            bail!(
                "timed out after {timeout:?} waiting for {what}; last `abg budget --json`: {last:#}"
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// A side's five-hour `used_pct` in an `abg.budget/1` report.
pub fn five_hour_pct(report: &Value, side: &str) -> Option<f64> {
    report[side]["five_hour"]["used_pct"].as_f64()
}

/// Whether a side is paused by the quota relay in a report.
pub fn quota_paused(report: &Value, side: &str) -> bool {
    report[side]["paused"]["cause"] == "quota"
}

/// Positions in `log` of the requests `pick` accepts.
pub fn positions(log: &[RecordedRequest], pick: impl Fn(&RecordedRequest) -> bool) -> Vec<usize> {
    log.iter()
        .enumerate()
        .filter(|(_, r)| pick(r))
        .map(|(i, _)| i)
        .collect()
}

fn base64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// An unsigned JWT (`alg: none`) with `aud` and an expiry a day ahead.
pub fn unsigned_jwt(aud: &str) -> String {
    let header = json!({"alg": "none", "typ": "JWT"});
    let now = unix_now();
    let claims = json!({"aud": aud, "sub": "abg-e2e", "iat": now, "exp": now + 86_400});
    format!(
        "{}.{}.",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    )
}

/// `abg claude` under the test-only token auth, with its pair's handles.
pub struct TokenClaude {
    pub tui: Tui,
    /// The environment of the terminal and of every `abg` run of the test.
    pub env: Vars,
    pub workdir: PathBuf,
    pub pair_dir: PathBuf,
    port: u16,
    secret: String,
    http: reqwest::Client,
}

impl Drop for TokenClaude {
    fn drop(&mut self) {
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_abg"))
            .arg("kill")
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(&self.workdir)
            .output();
        self.tui.stop();
    }
}

impl TokenClaude {
    /// Seeds Claude against `mock` (channels on), starts `abg claude` with
    /// `ANTHROPIC_API_KEY` removed and `ANTHROPIC_AUTH_TOKEN` set to an
    /// unsigned `claude-gateway` JWT, confirms the dev-channels dialog,
    /// waits for the prompt and the channel registration.
    pub async fn start(s: &Scenario, mock: &MockAnthropic, extra: &[(&str, &str)]) -> Result<Self> {
        s.env
            .seed_claude(&mock.base_url(), &super::env::ClaudeSeed { channels: true })?;
        let (mut env, _, _) = super::abg_codex::abg_env(s)?;
        env.retain(|(k, _)| k != "ANTHROPIC_API_KEY");
        set_var(
            &mut env,
            "ANTHROPIC_AUTH_TOKEN",
            &unsigned_jwt("claude-gateway"),
        );
        for (k, v) in extra {
            set_var(&mut env, k, v);
        }
        let abg = Path::new(env!("CARGO_BIN_EXE_abg"));
        let tui = s.tui("abg-claude", abg, &["claude"], &env)?;
        let mut me = Self {
            tui,
            env,
            workdir: s.env.workdir.clone(),
            pair_dir: PathBuf::new(),
            port: 0,
            secret: String::new(),
            http: reqwest::Client::builder().no_proxy().build()?,
        };
        let first = me
            .tui
            .wait_until("the dev-channels dialog or the prompt", WAIT, |screen| {
                screen.contains(DEV_DIALOG) || screen.contains("bypass permissions on")
            })
            .await?;
        if first.contains(DEV_DIALOG) {
            me.tui.press("Enter")?;
        }
        me.tui
            .wait_until("the Claude prompt", WAIT, |screen| {
                !screen.contains(DEV_DIALOG) && screen.contains("bypass permissions on")
            })
            .await?;
        let status = abg_json(&me.env, &me.workdir, &["status", "--json"])?;
        let pair_dir = PathBuf::from(status["state_dir"].as_str().context("state_dir")?);
        me.port = status["control_port"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .context("control_port in abg status")?;
        me.secret = std::fs::read_to_string(pair_dir.join("secret"))?
            .trim()
            .to_string();
        let debug_log = pair_dir.join("logs/claude-debug.log");
        s.diag.add_file("claude debug log (tail)", &debug_log, 30);
        s.diag.add_file(
            "abg daemon log (tail)",
            pair_dir.join("logs/daemon.log"),
            40,
        );
        wait_for_file_text(
            &s.diag,
            &debug_log,
            "MCP server \"abg\": Channel notifications registered",
            WAIT,
        )
        .await?;
        me.pair_dir = pair_dir;
        Ok(me)
    }

    fn control(&self) -> super::control::Control {
        super::control::Control {
            http: self.http.clone(),
            port: self.port,
            secret: self.secret.clone(),
        }
    }

    /// Stores a message through the control plane; its id.
    pub async fn inject(&self, from: &str, to: &str, body: &str) -> Result<String> {
        self.control().inject(from, to, body).await
    }

    /// Every stored message, oldest first, with its delivery state.
    pub async fn messages(&self) -> Result<Vec<Value>> {
        self.control().messages().await
    }

    /// Waits until a stored message satisfies `pred`; returns it.
    pub async fn wait_message(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Result<Value> {
        self.control().wait_message(what, WAIT, pred).await
    }
}
