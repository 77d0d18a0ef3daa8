//! `abg opencode` from process start to OpenCode's composer on screen, with
//! the pair's daemon and its `opencode serve` warm, beside the bare
//! `opencode attach` launched the same way in the same run.
//!
//! Both sides run the pinned real OpenCode offline as `tests/e2e_opencode.rs`
//! does (a scenario with its own network namespace, a hermetic home whose
//! `opencode.json` names the mock Chat Completions provider, XDG dirs under
//! it, the tmux driver), each in a fresh tmux server:
//! - abg: `abg opencode` against the pair's warm daemon and server (the
//!   daemon started them in the uncounted warm-up).
//! - bare: `opencode attach <url> --dir <project> --session <id>` (the argv
//!   abg gives it, the password in `OPENCODE_SERVER_PASSWORD`) against a
//!   bare `opencode serve` started as the daemon starts its own (abg's argv
//!   and environment, on a fixed loopback port, in the project), with a
//!   session created as the daemon creates the pair's (`POST /session`
//!   titled `abg`).
//!
//! Marker on both sides: the composer is ready, i.e. its footer names the
//! model ("Mock Model", what the e2e test waits for). Runs are interleaved
//! (abg, bare, then bare, abg, …) after one uncounted warm-up of each; the
//! TUI and everything it started are gone before the next run, the daemon
//! and both servers stay.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::json;

use super::launch::{Pairing, Side, TARGET_RATIO, Timed, free_base, measured, settle, time_within};
use super::stats::Samples;
use super::support::clis::Need;
use super::support::env::{Vars, set_var};
use super::support::mock_chat::MockChat;
use super::support::procs::{self, ChildProc};
use super::support::scenario::Scenario;
use super::table::{Row, Verdict};

use abg::opencode::api::Api;
use abg::opencode::launch::{self as oc, Mode};

/// The composer's footer names the model once it is ready.
const COMPOSER: &str = "Mock Model";
/// A counted launch; the warm-up also boots the daemon's server.
const LIMIT: Duration = Duration::from_secs(60);
const WARM_LIMIT: Duration = Duration::from_secs(150);
const FIGURE: &str =
    "`abg opencode` to the ready composer (model in the footer), daemon and server warm";
const BARE: &str = "bare `opencode attach <url> --dir <project> --session <id>` (abg's argv) on a bare `opencode serve`";

/// The OpenCode launch row (or why it was not measured).
pub fn rows(runs: usize, rows: &mut Vec<Row>, notes: &mut Vec<String>) {
    let target = "≤ 1.1× bare";
    let clis = super::support::clis::Clis::discover();
    if !clis.is_ok_and(|c| c.opencode.is_some()) {
        let why = "needs the pinned `opencode` (`bash tests/e2e/setup.sh`)";
        rows.push(Row::skipped(FIGURE, target, why));
        return;
    }
    match measured(
        "bench_launch_opencode",
        Need::OpenCode,
        move |s| async move { run_all(&s, runs).await },
    ) {
        Ok((p, spawn)) => {
            rows.push(row(&p));
            notes.push(format!(
                "launch, OpenCode: `abg opencode` start → its `opencode attach` started {} (process start times, 10 ms ticks): the rest of the difference is the TUI's own start under abg's PTY; {runs} interleaved runs per side after a warm-up, screens polled every {} ms; a ratio median below 1 (abg faster than the bare CLI it runs) says the run-to-run noise exceeds abg's cost: no verdict, never a pass",
                spawn.summary(0, "ms"),
                super::launch::POLL.as_millis()
            ));
        }
        Err(why) => rows.push(Row::skipped(FIGURE, target, &why)),
    }
}

fn row(p: &Pairing) -> Row {
    let ratio = p.ratio.median();
    // abg runs the bare CLI and more: a ratio below 1 is noise, not a pass.
    let verdict = if ratio < 1.0 {
        Verdict::Unjudged
    } else {
        Verdict::of(ratio <= TARGET_RATIO)
    };
    Row::new(
        FIGURE,
        format!(
            "{} · ratio {}",
            p.abg.summary(0, "ms"),
            p.ratio.summary(2, "×")
        ),
        format!("{BARE} {}", p.bare.summary(0, "ms")),
        "≤ 1.1× bare",
        verdict,
    )
}

/// What both sides share.
struct Setup {
    abg_env: Vars,
    bare_env: Vars,
    bare_args: Vec<String>,
    bare_server: ChildProc,
    opencode: std::path::PathBuf,
    state_dir: std::path::PathBuf,
    root: std::path::PathBuf,
    _mock: MockChat,
}

async fn setup(s: &Scenario) -> Result<Setup> {
    let mock = MockChat::start().await?;
    let home = &s.env.home;
    let config = home.join(".config/opencode");
    std::fs::create_dir_all(&config)?;
    let cfg = json!({
        "model": "mock/mock-model", "small_model": "mock/mock-model",
        "autoupdate": false, "share": "disabled",
        "provider": {"mock": {"npm": "@ai-sdk/openai-compatible", "name": "Mock",
            "options": {"baseURL": mock.base_url(), "apiKey": "dummy"},
            "models": {"mock-model": {"name": "Mock Model"}}}}
    });
    std::fs::write(config.join("opencode.json"), cfg.to_string())?;
    let opencode = s.clis.opencode.clone().context("no opencode")?;

    // The environment `abg opencode` runs in (as the e2e test's), which
    // the daemon and its server inherit.
    let state_dir = s.env.root.join("abg-state");
    let config_dir = s.env.root.join("abg-config");
    std::fs::create_dir_all(&state_dir)?;
    std::fs::create_dir_all(&config_dir)?;
    let mut env = s.env.launcher_env();
    let base = free_base()?;
    for (k, v) in [
        ("ABG_STATE_DIR", state_dir.display().to_string()),
        ("ABG_CONFIG_DIR", config_dir.display().to_string()),
        ("ABG_BASE_PORT", base.to_string()),
        ("ABG_OPENCODE_BINARY", opencode.display().to_string()),
    ] {
        set_var(&mut env, k, &v);
    }
    for (k, sub) in [
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_STATE_HOME", ".local/state"),
    ] {
        set_var(&mut env, k, &home.join(sub).to_string_lossy());
    }
    for k in [
        "OPENCODE_DISABLE_AUTOUPDATE",
        "OPENCODE_DISABLE_MODELS_FETCH",
        "OPENCODE_DISABLE_LSP_DOWNLOAD",
        "OPENCODE_DISABLE_SHARE",
    ] {
        set_var(&mut env, k, "1");
    }

    // The bare server: the daemon's argv and environment (password in the
    // environment), on a fixed loopback port, in the project.
    let port = procs::free_port()?;
    let password = abg::paths::new_secret();
    let mut server_env = env.clone();
    for (k, v) in oc::server_env(Mode::Yolo, &password, None) {
        set_var(&mut server_env, &k, &v);
    }
    let args = oc::server_args(port);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut bare_server = s.spawn("bare-opencode-serve", &opencode, &args, &server_env)?;
    let api = Api::new(port, password.clone())?;
    let end = std::time::Instant::now() + WARM_LIMIT;
    while !api.health().await.is_ok_and(|v| v.is_some()) {
        if bare_server.try_exit_status().is_some() || std::time::Instant::now() > end {
            bail!("the bare `opencode serve` did not become healthy");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let session = api.create_session(oc::SESSION_TITLE).await?;
    let url = format!("http://127.0.0.1:{port}");
    let dir = s.env.workdir.display().to_string();
    let bare_args = oc::attach_args(&url, &dir, &session, &[]);
    // What `abg opencode` adds to its own environment for the TUI.
    let mut bare_env = env.clone();
    set_var(&mut bare_env, oc::PASSWORD_ENV, &password);
    set_var(&mut bare_env, "OPENCODE_DISABLE_AUTOUPDATE", "1");
    Ok(Setup {
        abg_env: env,
        bare_env,
        bare_args,
        bare_server,
        opencode,
        state_dir,
        root: s.env.root.clone(),
        _mock: mock,
    })
}

async fn run_all(s: &Scenario, runs: usize) -> Result<(Pairing, Samples)> {
    let mut set = setup(s).await?;
    let result = run_pairs(s, &set, runs).await;
    // Stop the daemon (and its server).
    super::henv::abg_kill(&set.abg_env, &s.env.workdir);
    set.bare_server.kill();
    result
}

/// The pairs, and for abg's runs the time from its start to its child's.
async fn run_pairs(s: &Scenario, set: &Setup, runs: usize) -> Result<(Pairing, Samples)> {
    let mut p = Pairing::default();
    let mut spawn = Samples::new();
    let mut n = 0;
    // Warm-up (uncounted): starts the pair's daemon, its server and the
    // pair's session, fills the page cache.
    for side in [Side::Abg, Side::Bare] {
        once(s, set, side, &mut n, WARM_LIMIT, &mut Samples::new()).await?;
    }
    for i in 0..runs {
        let order = if i % 2 == 0 {
            [Side::Abg, Side::Bare]
        } else {
            [Side::Bare, Side::Abg]
        };
        let mut abg = None;
        let mut bare = None;
        for side in order {
            let t = once(s, set, side, &mut n, LIMIT, &mut spawn).await?;
            match side {
                Side::Abg => abg = Some(t),
                Side::Bare => bare = Some(t),
            }
        }
        p.push(abg.context("no abg run")?, bare.context("no bare run")?);
    }
    Ok((p, spawn))
}

fn composer(screen: &str) -> bool {
    screen.contains(COMPOSER)
}

async fn once(
    s: &Scenario,
    set: &Setup,
    side: Side,
    n: &mut usize,
    limit: Duration,
    spawn: &mut Samples,
) -> Result<Timed> {
    *n += 1;
    let abg = Path::new(super::henv::ABG);
    let (name, program, args, env) = match side {
        Side::Abg => (
            format!("abg-opencode-{n}"),
            abg,
            vec!["opencode"],
            &set.abg_env,
        ),
        Side::Bare => (
            format!("opencode-{n}"),
            set.opencode.as_path(),
            set.bare_args.iter().map(String::as_str).collect(),
            &set.bare_env,
        ),
    };
    let (timed, tui) = time_within(s, &name, program, &args, env, composer, limit).await?;
    if side == Side::Abg
        && let Some(d) = spawn_delay(&set.root)
    {
        spawn.push(d);
    }
    settle(&set.root, tui, || long_lived(set)).await;
    Ok(timed)
}

/// The processes that outlive a run: the daemon, both servers, and
/// whatever runs in a server's process group.
fn long_lived(set: &Setup) -> Vec<i32> {
    let mut leaders: Vec<i32> = set
        .bare_server
        .pid()
        .and_then(|p| i32::try_from(p).ok())
        .into_iter()
        .collect();
    if let Ok(pairs) = std::fs::read_dir(set.state_dir.join("pairs")) {
        for dir in pairs.flatten().map(|e| e.path()) {
            for f in ["daemon.json", "opencode-server.json"] {
                let pid = std::fs::read_to_string(dir.join(f))
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .and_then(|v| v["pid"].as_i64())
                    .and_then(|p| i32::try_from(p).ok());
                leaders.extend(pid);
            }
        }
    }
    let mut keep = leaders.clone();
    keep.extend(
        procs::referencing(&set.root)
            .into_iter()
            .map(|p| p.pid)
            .filter(|pid| pgrp(*pid).is_some_and(|g| leaders.contains(&g))),
    );
    keep
}

/// Milliseconds from `abg opencode`'s start to its `opencode attach`'s,
/// from their start times in `/proc` (clock ticks).
fn spawn_delay(root: &Path) -> Option<f64> {
    let live = procs::referencing(root);
    let abg = live
        .iter()
        .find(|p| p.cmdline.starts_with(super::henv::ABG) && p.cmdline.ends_with(" opencode"))?;
    let child = live
        .iter()
        .find(|p| p.cmdline.contains(" attach ") && ppid(p.pid) == Some(abg.pid))?;
    let ticks = start_ticks(child.pid)?.checked_sub(start_ticks(abg.pid)?)?;
    let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100);
    Some(ticks as f64 * 1000.0 / hz as f64)
}

/// Field `n` (1-based, as in proc(5)) of `/proc/<pid>/stat`, for n ≥ 3.
fn stat_field(pid: i32, n: usize) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    rest.split_whitespace().nth(n - 3).map(str::to_owned)
}

fn start_ticks(pid: i32) -> Option<u64> {
    stat_field(pid, 22)?.parse().ok()
}

fn ppid(pid: i32) -> Option<i32> {
    stat_field(pid, 4)?.parse().ok()
}

/// The process group of `pid`.
fn pgrp(pid: i32) -> Option<i32> {
    stat_field(pid, 5)?.parse().ok()
}
