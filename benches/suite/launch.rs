//! `abg claude` / `abg codex` from process start to the agent's prompt on
//! screen, with the pair's daemon warm, beside the bare CLI launched the
//! same way in the same run.
//!
//! Both sides run the real pinned CLIs offline exactly as the e2e harness
//! does (a scenario with its own network namespace, hermetic homes with the
//! first-run seeds, the mock model APIs, the tmux driver), each in a fresh
//! tmux server, timed from just before the pane starts to the first screen
//! that shows the prompt (polled every few ms, same marker on both sides):
//! - Codex: `abg codex` against the pair's warm daemon and app-server, vs
//!   bare `codex` with the argv abg gives it (`--remote`, token env,
//!   `--yolo`) against a bare `codex app-server` started with the daemon's
//!   own argv; marker: the connected composer.
//! - Claude: `abg claude` vs bare `claude --dangerously-load-development-
//!   channels server:abg --dangerously-skip-permissions` (the flags that
//!   decide what Claude shows first); both show the dev-channels dialog,
//!   which is answered (Enter) the moment it is on screen; marker: the
//!   prompt's "bypass permissions on" line with the dialog gone. The time
//!   to the dialog is reported too.
//!
//! Runs are interleaved (abg, bare, then bare, abg, …) after one uncounted
//! warm-up of each, and each run's processes are gone before the next.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::stats::{Samples, ms};
use super::support::abg_claude::DEV_DIALOG;
use super::support::clis::{Clis, Need};
use super::support::env::{ClaudeSeed, CodexSeed, Vars, set_var};
use super::support::mock_anthropic::MockAnthropic;
use super::support::mock_openai::MockOpenAi;
use super::support::procs;
use super::support::scenario::{self, Scenario};
use super::support::tui::{EXIT_MARKER, Tui};
use super::table::{Row, Verdict};

const CLAUDE_PROMPT: &str = "bypass permissions on";
const CODEX_COMPOSER: &str = "Ask Codex to do anything";
const CODEX_CONNECTED: &str = "permissions:";
/// Screen polling period (each poll is one `tmux capture-pane`).
pub const POLL: Duration = Duration::from_millis(5);
const LIMIT: Duration = Duration::from_secs(30);
/// A dialog still on screen this long after Enter gets Enter again.
const REPRESS: Duration = Duration::from_secs(1);
pub const TARGET_RATIO: f64 = 1.1;

/// One agent's launches: abg's and the bare CLI's, paired by run.
#[derive(Debug, Default, Clone)]
pub struct Pairing {
    pub abg: Samples,
    pub bare: Samples,
    /// abg ÷ bare, run by run.
    pub ratio: Samples,
    /// Claude only: start → dev-channels dialog on screen.
    pub abg_dialog: Samples,
    pub bare_dialog: Samples,
}

impl Pairing {
    pub fn push(&mut self, abg: Timed, bare: Timed) {
        self.abg.push(abg.prompt);
        self.bare.push(bare.prompt);
        self.ratio.push(abg.prompt / bare.prompt);
        if let (Some(a), Some(b)) = (abg.dialog, bare.dialog) {
            self.abg_dialog.push(a);
            self.bare_dialog.push(b);
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Launches {
    pub codex: Pairing,
    pub claude: Pairing,
}

#[derive(Debug, Clone, Copy)]
pub struct Timed {
    pub dialog: Option<f64>,
    pub prompt: f64,
}

/// The two launch rows (or why they were not measured), and notes.
pub fn rows(runs: usize, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    const CODEX: &str = "`abg codex` to the connected composer, daemon warm";
    const CLAUDE: &str = "`abg claude` to the prompt (dev-channels dialog answered), daemon warm";
    let target = "≤ 1.1× bare";
    match measure(runs) {
        Ok(l) => {
            rows.push(row(
                CODEX,
                &l.codex,
                "bare `codex --remote` (abg's argv) on a bare app-server",
            ));
            rows.push(row(
                CLAUDE,
                &l.claude,
                "bare `claude --dangerously-load-development-channels server:abg --dangerously-skip-permissions`",
            ));
            notes.push(format!(
                "launch: start → dev-channels dialog on screen: `abg claude` {}, bare `claude` {}; screens polled every {} ms (`tmux capture-pane`), {runs} interleaved runs per side after a warm-up",
                l.claude.abg_dialog.summary(0, "ms"),
                l.claude.bare_dialog.summary(0, "ms"),
                POLL.as_millis()
            ));
        }
        Err(why) => {
            rows.push(Row::skipped(CODEX, target, &why));
            rows.push(Row::skipped(CLAUDE, target, &why));
        }
    }
}

fn row(figure: &str, p: &Pairing, bare: &str) -> Row {
    Row::new(
        figure,
        format!(
            "{} · ratio {}",
            p.abg.summary(0, "ms"),
            p.ratio.summary(2, "×")
        ),
        format!("{bare} {}", p.bare.summary(0, "ms")),
        "≤ 1.1× bare",
        Verdict::of(p.ratio.median() <= TARGET_RATIO),
    )
}

/// Runs the measurement in an e2e scenario; `Err` says why it could not.
pub fn measure(runs: usize) -> Result<Launches, String> {
    let clis = Clis::discover().map_err(|e| format!("{e:#}"))?;
    if clis.codex.is_none() || clis.claude.is_none() {
        return Err("needs the pinned `codex` and `claude` (`bash tests/e2e/setup.sh`)".into());
    }
    measured("bench_launch", Need::Both, move |s| async move {
        run_all(&s, runs).await
    })
}

/// Runs `body` in an e2e scenario named `name` and returns what it
/// measured; `Err` says why it could not.
pub fn measured<T, F, Fut>(name: &str, need: Need, body: F) -> Result<T, String>
where
    T: Send + 'static,
    F: FnOnce(Scenario) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<T>>,
{
    let out: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
    let slot = Arc::clone(&out);
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
        scenario::run(name, need, move |s| async move {
            let l = body(s).await?;
            if let Ok(mut o) = slot.lock() {
                *o = Some(l);
            }
            Ok(())
        });
    }));
    if let Err(panic) = ran {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        return Err(format!(
            "the launch scenario failed: {}",
            text.lines().next().unwrap_or("")
        ));
    }
    out.lock()
        .ok()
        .and_then(|mut o| o.take())
        .ok_or_else(|| "the launch scenario was skipped".into())
}

/// What both sides share: the mocks, the seeds, the envs, the bare
/// app-server and the pids that outlive a run.
struct Setup {
    abg_env: Vars,
    claude_env: Vars,
    codex_env: Vars,
    codex_args: Vec<String>,
    bare_server: procs::ChildProc,
    state_dir: PathBuf,
    root: PathBuf,
    _openai: MockOpenAi,
    _anthropic: MockAnthropic,
}

async fn setup(s: &Scenario) -> Result<Setup> {
    let openai = MockOpenAi::start().await?;
    let anthropic = MockAnthropic::start().await?;
    s.env
        .seed_codex(&openai.base_url(), &CodexSeed::default())?;
    s.env
        .seed_claude(&anthropic.base_url(), &ClaudeSeed { channels: true })?;
    let codex = s.clis.codex()?;

    let state_dir = s.env.root.join("abg-state");
    let config_dir = s.env.root.join("abg-config");
    std::fs::create_dir_all(&state_dir)?;
    std::fs::create_dir_all(&config_dir)?;
    let mut abg_env = s.env.launcher_env();
    let base = free_base()?;
    for (k, v) in [
        ("ABG_STATE_DIR", state_dir.display().to_string()),
        ("ABG_CONFIG_DIR", config_dir.display().to_string()),
        ("ABG_BASE_PORT", base.to_string()),
    ] {
        set_var(&mut abg_env, k, &v);
    }

    // The bare app-server, with the argv the daemon gives its own.
    let port = procs::free_port()?;
    let token = "abg-bench-launch-token";
    let token_file = s.env.root.join("bare-app.token");
    std::fs::write(&token_file, format!("{token}\n"))?;
    let args = abg::codex::appserver::args(port, &token_file, abg::codex::appserver::Mode::Yolo);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut bare_server = s.spawn("bare-app-server", codex, &args, &s.env.codex_env())?;
    procs::wait_http_ok(port, "/readyz", &mut bare_server, LIMIT).await?;
    let url = format!("ws://127.0.0.1:{port}");
    let plan = abg::codex::launch::plan(&codex.display().to_string(), &url, &[], false)?;
    let mut codex_env = s.env.codex_env();
    set_var(&mut codex_env, abg::codex::launch::TOKEN_ENV, token);

    Ok(Setup {
        abg_env,
        claude_env: s.env.claude_env()?,
        codex_env,
        codex_args: plan.args,
        bare_server,
        state_dir,
        root: s.env.root.clone(),
        _openai: openai,
        _anthropic: anthropic,
    })
}

/// A base port whose block of ten is free now.
pub fn free_base() -> Result<u16> {
    for _ in 0..50 {
        let p = procs::free_port()?;
        let base = (p - p % 10).clamp(20_000, 60_000);
        if (0..10).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return Ok(base);
        }
    }
    bail!("no free port block")
}

#[derive(Clone, Copy, PartialEq)]
pub enum Side {
    Abg,
    Bare,
}

async fn run_all(s: &Scenario, runs: usize) -> Result<Launches> {
    let mut set = setup(s).await?;
    let result = run_pairs(s, &set, runs).await;
    // The daemon left the panes' sessions: stop it (and its app-server).
    super::henv::abg_kill(&set.abg_env, &s.env.workdir);
    set.bare_server.kill();
    result
}

async fn run_pairs(s: &Scenario, set: &Setup, runs: usize) -> Result<Launches> {
    let mut l = Launches::default();
    let mut n = 0;
    // Warm-up (uncounted): starts the pair's daemon and its app-server,
    // fills the page cache for both CLIs.
    for side in [Side::Abg, Side::Bare] {
        codex_once(s, set, side, &mut n).await?;
        claude_once(s, set, side, &mut n).await?;
    }
    for i in 0..runs {
        let order = if i % 2 == 0 {
            [Side::Abg, Side::Bare]
        } else {
            [Side::Bare, Side::Abg]
        };
        let mut codex = Vec::new();
        let mut claude = Vec::new();
        for side in order {
            codex.push((side, codex_once(s, set, side, &mut n).await?));
            claude.push((side, claude_once(s, set, side, &mut n).await?));
        }
        let pick = |v: &[(Side, Timed)], want: Side| {
            v.iter()
                .find(|(side, _)| *side == want)
                .map(|(_, t)| *t)
                .context("a side is missing")
        };
        l.codex
            .push(pick(&codex, Side::Abg)?, pick(&codex, Side::Bare)?);
        l.claude
            .push(pick(&claude, Side::Abg)?, pick(&claude, Side::Bare)?);
    }
    Ok(l)
}

fn codex_connected(screen: &str) -> bool {
    screen.contains(CODEX_COMPOSER) && screen.contains(CODEX_CONNECTED)
}

fn claude_prompt(screen: &str) -> bool {
    !screen.contains(DEV_DIALOG) && screen.contains(CLAUDE_PROMPT)
}

async fn codex_once(s: &Scenario, set: &Setup, side: Side, n: &mut usize) -> Result<Timed> {
    *n += 1;
    let abg = Path::new(super::henv::ABG);
    let (name, program, args, env) = match side {
        Side::Abg => (format!("abg-codex-{n}"), abg, vec!["codex"], &set.abg_env),
        Side::Bare => (
            format!("codex-{n}"),
            s.clis.codex()?,
            set.codex_args.iter().map(String::as_str).collect(),
            &set.codex_env,
        ),
    };
    let (timed, tui) = time_to_prompt(s, &name, program, &args, env, codex_connected).await?;
    finish(set, tui).await;
    Ok(timed)
}

async fn claude_once(s: &Scenario, set: &Setup, side: Side, n: &mut usize) -> Result<Timed> {
    *n += 1;
    let abg = Path::new(super::henv::ABG);
    let bare_args = [
        "--dangerously-load-development-channels",
        "server:abg",
        "--dangerously-skip-permissions",
    ];
    let (name, program, args, env) = match side {
        Side::Abg => (format!("abg-claude-{n}"), abg, vec!["claude"], &set.abg_env),
        Side::Bare => (
            format!("claude-{n}"),
            s.clis.claude()?,
            bare_args.to_vec(),
            &set.claude_env,
        ),
    };
    let (timed, tui) = time_to_prompt(s, &name, program, &args, env, claude_prompt).await?;
    finish(set, tui).await;
    Ok(timed)
}

/// Starts `program` in a fresh pane and polls its screen until `done`,
/// answering the dev-channels dialog the moment it shows.
async fn time_to_prompt(
    s: &Scenario,
    name: &str,
    program: &Path,
    args: &[&str],
    env: &Vars,
    done: fn(&str) -> bool,
) -> Result<(Timed, Tui)> {
    time_within(s, name, program, args, env, done, LIMIT).await
}

/// [`time_to_prompt`] with its own limit.
pub async fn time_within(
    s: &Scenario,
    name: &str,
    program: &Path,
    args: &[&str],
    env: &Vars,
    done: fn(&str) -> bool,
    limit: Duration,
) -> Result<(Timed, Tui)> {
    let start = Instant::now();
    let tui = s.tui(name, program, args, env)?;
    let mut dialog = None;
    let mut pressed = start;
    loop {
        let screen = tui.screen()?;
        let on_dialog = screen.contains(DEV_DIALOG);
        if on_dialog && (dialog.is_none() || pressed.elapsed() > REPRESS) {
            // Answer it at once; again if a keypress was lost.
            dialog.get_or_insert(ms(start.elapsed()));
            tui.press("Enter")?;
            pressed = Instant::now();
        } else if done(&screen) {
            let prompt = ms(start.elapsed());
            return Ok((Timed { dialog, prompt }, tui));
        }
        if screen.contains(EXIT_MARKER) || start.elapsed() > limit {
            bail!("[{name}] no prompt within {limit:?}; last screen:\n{screen}");
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The pids that outlive a run: the daemon, its app-server and the
/// app-server's guard, the bare one.
fn long_lived(set: &Setup) -> Vec<i32> {
    let mut keep: Vec<i32> = set
        .bare_server
        .pid()
        .and_then(|p| i32::try_from(p).ok())
        .into_iter()
        .collect();
    let Ok(pairs) = std::fs::read_dir(set.state_dir.join("pairs")) else {
        return keep;
    };
    for dir in pairs.flatten().map(|e| e.path()) {
        for (f, key) in [
            ("daemon.json", "pid"),
            ("codex-appserver.json", "pid"),
            ("codex-appserver.json", "guard"),
        ] {
            let pid = std::fs::read_to_string(dir.join(f))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v[key].as_i64())
                .and_then(|p| i32::try_from(p).ok());
            keep.extend(pid);
        }
    }
    keep
}

/// Stops the pane and waits (bounded) until everything the run started is
/// gone, so runs never overlap; leftovers are killed.
async fn finish(set: &Setup, tui: Tui) {
    settle(&set.root, tui, || long_lived(set)).await;
}

/// Stops the pane and waits (bounded) until every process referencing
/// `root` but those `keep` names is gone; leftovers are killed.
pub async fn settle(root: &Path, mut tui: Tui, keep: impl Fn() -> Vec<i32>) {
    tui.stop();
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let keep = keep();
        let left: Vec<_> = procs::referencing(root)
            .into_iter()
            .filter(|p| !keep.contains(&p.pid))
            .collect();
        if left.is_empty() {
            return;
        }
        if Instant::now() >= end {
            procs::kill_all(&left);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
