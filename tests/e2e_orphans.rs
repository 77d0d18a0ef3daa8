//! End-to-end: a pair's `codex app-server` never outlives both its daemon
//! and its TUI (issue 19), with the real pinned Codex 0.169.0 (and Claude
//! Code 2.1.330 for the full reproduction) against the mock model APIs.
//!
//! - `pending_approval_idle_shutdown_stops_the_app_server`: the reported
//!   reproduction. `abg codex --safe` and `abg claude --safe` in two
//!   terminals, Codex's approval overlay up, both terminals closed; the
//!   daemon idles out and must not exit before its app-server is gone and
//!   `codex-appserver.json` removed. The orphan grace period is long here,
//!   so only the daemon's own shutdown can pass it.
//! - `killed_daemon_with_the_tui_attached_is_adopted`: `kill -9` of the
//!   daemon while the TUI is connected keeps the app-server (and the TUI
//!   working) past the grace period; the next daemon adopts it.
//! - `killed_daemon_without_a_tui_leaves_no_process`: `kill -9` of the
//!   daemon with no TUI and no later `abg` command: the app-server's guard
//!   ends it once the grace period has passed.
//!
//! The idle limit is `daemon.idle_shutdown_minutes = 1` in the project's
//! config (what the report used) and, for speed, the test-only
//! `ABG_TEST_IDLE_SHUTDOWN_SECS`. Skipped (one line) when the pinned CLIs
//! are absent; a hard failure with `ABG_E2E_REQUIRED=1`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

use support::abg_claude::DEV_DIALOG;
use support::abg_codex::{AbgCodex, abg_env, alive};
use support::clis::Need;
use support::env::{ClaudeSeed, CodexSeed, set_var};
use support::mock_anthropic::MockAnthropic;
use support::mock_openai::{MockOpenAi, Step};
use support::scenario::{self, Scenario};
use support::{WAIT, announce};

/// Codex 0.169.0's command approval overlay.
const CODEX_APPROVAL: &str = "Would you like to run the following command?";

/// The grace period the kill -9 scenarios configure.
const GRACE_SECS: u64 = 3;

fn pid_in(pair_dir: &Path, file: &str) -> Option<i32> {
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(pair_dir.join(file)).ok()?).ok()?;
    v["pid"].as_i64().and_then(|p| i32::try_from(p).ok())
}

fn pair_dir(state: &Path) -> Result<std::path::PathBuf> {
    std::fs::read_dir(state.join("pairs"))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("secret").exists())
        .context("the pair's state dir does not exist")
}

/// Waits (bounded) until `pred` holds; `what` names it in the error.
async fn wait_until(what: &str, within: Duration, pred: impl Fn() -> bool) -> Result<Duration> {
    let start = Instant::now();
    loop {
        if pred() {
            return Ok(start.elapsed());
        }
        if start.elapsed() > within {
            bail!("{what}: not within {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// This test's `codex app-server` and `abg appserver-guard` processes.
fn app_servers(s: &Scenario) -> Vec<String> {
    support::procs::referencing(&s.env.root)
        .into_iter()
        .map(|p| format!("pid {}: {}", p.pid, p.cmdline))
        .filter(|c| c.contains("app-server") || c.contains("appserver-guard"))
        .collect()
}

// ------------------------------------------------- pending approval, idle

#[test]
fn pending_approval_idle_shutdown_stops_the_app_server() {
    scenario::run(
        "orphans_pending_approval",
        Need::Both,
        pending_approval_idle,
    );
}

async fn pending_approval_idle(s: Scenario) -> Result<()> {
    let openai = MockOpenAi::start().await?;
    let anthropic = MockAnthropic::start().await?;
    let log = openai.log().clone();
    s.diag
        .add_source("openai mock requests", move || log.summary(40));
    s.env.seed_codex(
        &openai.base_url(),
        &CodexSeed {
            approval_policy: "on-request".into(),
            sandbox_mode: "workspace-write".into(),
            extra_toml: String::new(),
        },
    )?;
    s.env
        .seed_claude(&anthropic.base_url(), &ClaudeSeed { channels: true })?;
    // The workspace sandbox keeps `.codex/` read-only: the escalation asks.
    std::fs::create_dir_all(s.env.workdir.join(".codex"))?;
    std::fs::create_dir_all(s.env.workdir.join(".abg"))?;
    std::fs::write(
        s.env.workdir.join(".abg/config.toml"),
        "[daemon]\nidle_shutdown_minutes = 1\n",
    )?;
    let (mut env, state, _) = abg_env(&s)?;
    set_var(&mut env, "ABG_TEST_IDLE_SHUTDOWN_SECS", "3");
    // Long: only the daemon's own shutdown may stop the app-server here.
    set_var(&mut env, "ABG_DAEMON_ORPHAN_GRACE_SECS", "600");
    let abg = Path::new(env!("CARGO_BIN_EXE_abg"));

    let mut codex = s.tui("abg-codex", abg, &["codex", "--safe"], &env)?;
    codex
        .wait_until("the connected Codex composer", WAIT, |sc| {
            sc.contains("Ask Codex to do anything") && sc.contains("GPT-5.5")
        })
        .await?;
    let mut claude = s.tui("abg-claude", abg, &["claude", "--safe"], &env)?;
    let first = claude
        .wait_until("the dev-channels dialog or the prompt", WAIT, |sc| {
            sc.contains(DEV_DIALOG) || sc.contains(" mode on")
        })
        .await?;
    if first.contains(DEV_DIALOG) {
        claude.press("Enter")?;
    }
    claude
        .wait_until("the Claude prompt", WAIT, |sc| {
            !sc.contains(DEV_DIALOG) && sc.contains(" mode on")
        })
        .await?;
    let dir = pair_dir(&state)?;
    register_logs(&s, &dir);

    // Codex asks for approval: a plain touch the sandbox refuses, then the
    // escalation.
    let cmd = "touch .codex/abg-orphan-marker";
    openai.push(Step::exec_command(cmd));
    openai.push(Step::function_call(
        "exec_command",
        &json!({
            "cmd": cmd,
            "sandbox_permissions": "require_escalated",
            "justification": "May I create the marker in .codex?",
        }),
    ));
    openai.push(Step::text("the marker is handled"));
    codex.type_text("please create the orphan marker").await?;
    codex.wait_for(CODEX_APPROVAL, WAIT).await?;
    let daemon = pid_in(&dir, "daemon.json").context("no daemon pid")?;
    let app = pid_in(&dir, "codex-appserver.json").context("no app-server pid")?;

    // Both terminals closed while the approval is pending.
    codex.stop();
    claude.stop();
    let t0 = Instant::now();
    // 60 s idle limit on code without the test knob, plus slack.
    wait_until("the daemon to idle out", Duration::from_secs(150), || {
        !alive(daemon)
    })
    .await?;
    let idle = t0.elapsed();
    let log = std::fs::read_to_string(dir.join("logs/daemon.log")).unwrap_or_default();
    ensure!(
        log.contains("idle: no agent attached"),
        "the daemon did not stop for idleness"
    );
    // The daemon exits only once its app-server is gone; allow for the
    // reaping of the zombie by init.
    let gone = wait_until(
        "the app-server to be gone once the daemon exited",
        Duration::from_secs(2),
        || !alive(app),
    )
    .await;
    let state_file = dir.join("codex-appserver.json");
    if let Err(e) = gone {
        return Err(s.diag.with_report(format!(
            "{e}: the daemon exited {:.1} s after the terminals closed and left {} running \
             (state file present: {})",
            idle.as_secs_f64(),
            app_servers(&s).join("; "),
            state_file.exists()
        )));
    }
    ensure!(
        !state_file.exists(),
        "the daemon exited and left {}",
        state_file.display()
    );
    ensure!(
        app_servers(&s).is_empty(),
        "app-servers left: {:?}",
        app_servers(&s)
    );
    announce(&format!(
        "pending approval: daemon idled out and stopped its app-server {:.1} s after the terminals closed",
        idle.as_secs_f64()
    ));
    Ok(())
}

fn register_logs(s: &Scenario, dir: &Path) {
    let dir = dir.to_path_buf();
    s.diag.add_source("abg pair logs", move || {
        let mut out = String::new();
        for (f, n) in [
            ("logs/daemon.log", 60),
            ("logs/daemon.stderr.log", 20),
            ("logs/codex-app-server.log", 30),
        ] {
            let tail = support::diag::tail_file(&dir.join(f), n).unwrap_or_default();
            out.push_str(&format!("--- {f}\n{tail}\n"));
        }
        out
    });
}

// ------------------------------------------------------------- kill -9

/// `abg codex` with a short orphan grace period (`daemon.orphan_grace_secs`
/// through its variable, in the environment of every `abg` the test runs).
async fn codex_with_grace(s: &Scenario) -> Result<(MockOpenAi, AbgCodex)> {
    let mock = MockOpenAi::start().await?;
    let log = mock.log().clone();
    s.diag
        .add_source("openai mock requests", move || log.summary(40));
    s.env.seed_codex(&mock.base_url(), &CodexSeed::default())?;
    let grace = GRACE_SECS.to_string();
    let abg = AbgCodex::start_with_env(s, &[], &[("ABG_DAEMON_ORPHAN_GRACE_SECS", &grace)]).await?;
    Ok((mock, abg))
}

fn kill9(pid: i32) -> Result<()> {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )?;
    Ok(())
}

#[test]
fn killed_daemon_with_the_tui_attached_is_adopted() {
    scenario::run("orphans_kill9_attached", Need::Codex, kill9_attached);
}

async fn kill9_attached(s: Scenario) -> Result<()> {
    let (mock, abg) = codex_with_grace(&s).await?;
    let result = kill9_attached_steps(&s, &mock, &abg).await;
    abg.shutdown().await?;
    result
}

async fn kill9_attached_steps(s: &Scenario, mock: &MockOpenAi, abg: &AbgCodex) -> Result<()> {
    mock.push(Step::text("first answer"));
    abg.tui.type_text("first question").await?;
    abg.tui.wait_for("first answer", WAIT).await?;
    let dir = abg.pair_dir()?;
    let daemon = abg.pid_in("daemon.json")?;
    let app = abg.pid_in("codex-appserver.json")?;
    // `abg codex` brings a dead daemon back by itself: keep it from doing
    // so (its `killed` sentinel) so the gap is longer than the grace.
    write_killed(&dir)?;
    kill9(daemon)?;
    wait_until("the daemon to die", WAIT, || !alive(daemon)).await?;
    // Well past the grace period, the TUI is still connected: the
    // app-server stays, and the TUI works as plain Codex.
    tokio::time::sleep(Duration::from_secs(GRACE_SECS * 3)).await;
    ensure!(
        alive(app),
        "the app-server died with its daemon while the TUI was attached"
    );
    mock.push(Step::text("plain codex still answers"));
    abg.tui.type_text("typed while the daemon is down").await?;
    abg.tui.wait_for("plain codex still answers", WAIT).await?;
    ensure!(alive(app), "the app-server died during the turn");
    // The next daemon adopts it.
    let _ = std::fs::remove_file(dir.join("killed"));
    let out = abg.run_cli(&s.env.workdir, &["status", "--json"])?;
    ensure!(
        out.status.success(),
        "abg status: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = abg.wait_daemon(WAIT).await?;
    ensure!(
        status["pid"].as_i64() != Some(i64::from(daemon)),
        "the old daemon answered"
    );
    let log = dir.join("logs/daemon.log");
    wait_until("the new daemon to adopt the app-server", WAIT, || {
        std::fs::read_to_string(&log)
            .is_ok_and(|t| t.contains("adopting the running codex app-server"))
    })
    .await?;
    ensure!(
        abg.pid_in("codex-appserver.json")? == app,
        "the app-server was replaced, not adopted"
    );
    // And relays through it: a message from "Claude" reaches the model.
    mock.push(Step::text("answer to the relayed message"));
    abg.send("relayed through the adopted app-server", None, 0)
        .await?;
    mock.wait_for_user_text("relayed through the adopted app-server", WAIT)
        .await?;
    Ok(())
}

#[test]
fn killed_daemon_without_a_tui_leaves_no_process() {
    scenario::run("orphans_kill9_detached", Need::Codex, kill9_detached);
}

async fn kill9_detached(s: Scenario) -> Result<()> {
    let (mock, abg) = codex_with_grace(&s).await?;
    let result = kill9_detached_steps(&s, &mock, &abg).await;
    abg.shutdown().await?;
    result
}

async fn kill9_detached_steps(s: &Scenario, mock: &MockOpenAi, abg: &AbgCodex) -> Result<()> {
    mock.push(Step::text("an answer"));
    abg.tui.type_text("a question").await?;
    abg.tui.wait_for("an answer", WAIT).await?;
    let dir = abg.pair_dir()?;
    let daemon = abg.pid_in("daemon.json")?;
    let app = abg.pid_in("codex-appserver.json")?;
    abg.quit().await?;
    kill9(daemon)?;
    let t0 = Instant::now();
    wait_until("the daemon to die", WAIT, || !alive(daemon)).await?;
    // No TUI, no daemon, no later command: gone after the grace period.
    let gone = wait_until(
        "the orphaned app-server to end",
        Duration::from_secs(GRACE_SECS + 10),
        || !alive(app),
    )
    .await;
    if let Err(e) = gone {
        return Err(s.diag.with_report(format!(
            "{e}: still running {:.1} s after the daemon was killed: {}",
            t0.elapsed().as_secs_f64(),
            app_servers(s).join("; ")
        )));
    }
    let after = t0.elapsed();
    ensure!(
        after >= Duration::from_secs(GRACE_SECS),
        "the app-server ended {after:?} after the daemon, before the grace period"
    );
    wait_until(
        "the state file to be removed",
        Duration::from_secs(5),
        || !dir.join("codex-appserver.json").exists(),
    )
    .await?;
    wait_until(
        "every app-server and guard process to end",
        Duration::from_secs(5),
        || app_servers(s).is_empty(),
    )
    .await
    .with_context(|| format!("left: {:?}", app_servers(s)))?;
    announce(&format!(
        "kill -9 without a TUI: the app-server ended {:.1} s after its daemon (grace {GRACE_SECS} s)",
        after.as_secs_f64()
    ));
    Ok(())
}

/// Writes the pair's `killed` sentinel (what `abg kill` leaves): `abg
/// codex` does not bring the daemon back while it exists.
fn write_killed(dir: &Path) -> Result<()> {
    std::fs::write(dir.join("killed"), "test\n")?;
    Ok(())
}
