//! Figures that need the pinned real `codex` (from `tests/e2e/setup.sh`,
//! found as the e2e harness finds it): the daemon's start of the pair's
//! app-server against a bare `codex app-server`, and both hops with the
//! real app-server answering from the e2e harness's mock Responses API,
//! each paired with a direct app-server client on the same thread.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::clients::{DirectClient, McpChild, is_channel_push};
use super::henv::{ABG, Henv};
use super::hops::Hops;
use super::procs::{alive, free_port, wait_until};
use super::stats::{Samples, ms, signed_ms};
use super::support::clis::Clis;
use super::support::env::{CodexSeed, MOCK_KEY, MOCK_KEY_VAR, TestEnv};
use super::support::mock_openai::{MockOpenAi, Step};
use super::table::{Row, Verdict};

const RUNS: usize = 5;

/// A hermetic abg env whose daemon runs the real codex against `mock`.
fn codex_env(clis: &Clis, mock: &MockOpenAi) -> anyhow::Result<(Henv, TestEnv, PathBuf)> {
    let codex = clis.codex()?.to_path_buf();
    let tenv = TestEnv::new("bench", clis)?;
    tenv.seed_codex(&mock.base_url(), &CodexSeed::default())?;
    let mut env = Henv::new();
    env.vars.extend([
        ("CODEX_HOME".into(), tenv.codex_home.display().to_string()),
        (MOCK_KEY_VAR.into(), MOCK_KEY.into()),
        ("ABG_CODEX_BINARY".into(), codex.display().to_string()),
    ]);
    Ok((env, tenv, codex))
}

async fn readyz(port: u16) -> bool {
    abg::codex::appserver::ready(port).await
}

fn sigterm(pid: u32) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(raw),
            nix::sys::signal::Signal::SIGTERM,
        );
    }
}

/// Bare `codex app-server` (abg's own argv) spawn → `/readyz` 200, ms.
async fn bare_start(env: &Henv, codex: &Path) -> anyhow::Result<f64> {
    let port = free_port();
    let token = env.path().join("bare.token");
    std::fs::write(&token, "bench-token")?;
    let args = abg::codex::appserver::args(port, &token, abg::codex::appserver::Mode::Yolo);
    let start = Instant::now();
    let mut child = tokio::process::Command::new(codex)
        .args(&args)
        .current_dir(&env.project)
        .env_clear()
        .envs(env.env())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    while !readyz(port).await {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("bare codex app-server never became ready");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let t = ms(start.elapsed());
    let _ = child.start_kill();
    let _ = child.wait().await;
    Ok(t)
}

/// `abg daemon` spawn (with `abg codex`'s mode file present) → the
/// daemon's published app-server state (written once it saw it ready), ms.
async fn daemon_start(env: &Henv, pair_dir: &Path) -> anyhow::Result<f64> {
    let state = pair_dir.join("codex-appserver.json");
    // A state file left behind would be adopted, not started: start cold.
    let _ = std::fs::remove_file(&state);
    let root = env.project.display().to_string();
    let start = Instant::now();
    let mut child = env
        .command(ABG)
        .args(["--pair", "main", "daemon", "--root", &root])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    while !state.exists() {
        if start.elapsed() > Duration::from_secs(30) {
            bail!("the daemon never published a ready app-server");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let t = ms(start.elapsed());
    let app_pid = std::fs::read_to_string(&state)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v["pid"].as_u64())
        .and_then(|p| u32::try_from(p).ok());
    sigterm(child.id());
    let _ = child.wait();
    if let Some(pid) = app_pid
        && !wait_until(Duration::from_secs(10), || !alive(pid))
    {
        bail!("the app-server {pid} outlived its daemon");
    }
    Ok(t)
}

async fn appserver_figures() -> anyhow::Result<(Samples, Samples)> {
    let clis = Clis::discover()?;
    let mock = MockOpenAi::start().await?;
    let (env, _tenv, codex) = codex_env(clis, &mock)?;
    let status = env.json(&["status", "--json"]);
    let pair_dir = PathBuf::from(status["state_dir"].as_str().context("state_dir")?);
    let pid = u32::try_from(status["pid"].as_u64().context("pid")?)?;
    sigterm(pid);
    wait_until(Duration::from_secs(10), || !alive(pid));
    std::fs::write(pair_dir.join("codex.mode"), "\"yolo\"")?;
    let (mut bare, mut daemon) = (Samples::new(), Samples::new());
    for _ in 0..RUNS {
        bare.push(bare_start(&env, &codex).await?);
        daemon.push(daemon_start(&env, &pair_dir).await?);
    }
    Ok((daemon, bare))
}

/// The app-server start row.
pub async fn appserver_row(notes: &mut Vec<String>) -> Row {
    let figure = "daemon spawn → codex app-server ready (real codex)";
    let target = "≤ bare + 30 ms";
    match appserver_figures().await {
        Ok((daemon, bare)) => {
            let over = daemon.median() - bare.median();
            notes.push(format!(
                "app-server start: abg's daemon median is bare + {over:.1} ms"
            ));
            Row::new(
                figure,
                daemon.summary(1, "ms"),
                format!(
                    "bare `codex app-server` → /readyz {}",
                    bare.summary(1, "ms")
                ),
                target,
                Verdict::of(over <= 30.0),
            )
        }
        Err(e) => Row::skipped(figure, target, &format!("{e:#}")),
    }
}

struct RealRig {
    _tenv: TestEnv,
    mock: MockOpenAi,
    direct: DirectClient,
    mcp: McpChild,
    thread: String,
}

impl RealRig {
    /// The direct client runs one turn; returns (sent, turn/started, item text receipt).
    async fn direct_turn(
        &mut self,
        reply: &str,
    ) -> anyhow::Result<(Instant, Instant, Option<Instant>)> {
        self.mock.push(Step::text(reply));
        let (_, sent) = self.direct.request_nowait(
            "turn/start",
            json!({"threadId": self.thread, "input": [{"type": "text", "text": "go", "text_elements": []}]}),
        )?;
        let (started, _) = self
            .direct
            .inbox
            .wait(|v| v["method"] == "turn/started")
            .await?;
        let mut item = None;
        loop {
            let (at, v) = self
                .direct
                .inbox
                .wait(|v| v["method"] == "item/completed" || v["method"] == "turn/completed")
                .await?;
            if v["method"] == "turn/completed" {
                return Ok((sent, started, item));
            }
            if v["params"]["item"]["text"] == reply {
                item = Some(at);
            }
        }
    }
}

async fn real_rig(env: &Henv, tenv: TestEnv, mock: MockOpenAi) -> anyhow::Result<RealRig> {
    let status = env.json(&["status", "--json"]);
    let pair_dir = PathBuf::from(status["state_dir"].as_str().context("state_dir")?);
    let app_port = u16::try_from(status["app_port"].as_u64().context("app_port")?)?;
    std::fs::write(pair_dir.join("codex.mode"), "\"yolo\"")?;
    let state = pair_dir.join("codex-appserver.json");
    if !wait_until(Duration::from_secs(30), || state.exists()) {
        bail!("the daemon did not start the real app-server");
    }
    let token = std::fs::read_to_string(pair_dir.join("codex.token"))?;
    let mut direct = DirectClient::connect(app_port, Some(token.trim())).await?;
    let started = direct
        .request("thread/start", json!({"cwd": env.project}))
        .await?;
    let thread = started["thread"]["id"]
        .as_str()
        .context("thread id")?
        .to_string();
    let mcp = McpChild::start(ABG, &env.project, &env.env()).await?;
    let mut rig = RealRig {
        _tenv: tenv,
        mock,
        direct,
        mcp,
        thread,
    };
    // The first turn gives the thread its rollout; abg's link then follows it.
    let end = Instant::now() + Duration::from_secs(30);
    for i in 0.. {
        let text = format!("bench warm-up {i}");
        rig.direct_turn(&text).await?;
        let pushed = tokio::time::timeout(
            Duration::from_millis(700),
            rig.mcp.inbox.wait(|v| is_channel_push(v, &text)),
        )
        .await;
        if matches!(pushed, Ok(Ok(_))) {
            break;
        }
        if Instant::now() > end {
            bail!("abg never relayed the real codex's messages");
        }
    }
    Ok(rig)
}

/// Both hops with the real codex: `n` paired samples each after `warmup`.
pub async fn hops(warmup: usize, n: usize) -> Result<Hops, String> {
    let run = async {
        let clis = Clis::discover()?;
        let mock = MockOpenAi::start().await?;
        let (env, tenv, _codex) = codex_env(clis, &mock)?;
        let mut rig = real_rig(&env, tenv, mock).await?;
        let mut h = Hops::default();
        let nonce = std::process::id();
        for i in 0..warmup + n {
            let text = format!("bench real codex→claude {nonce}-{i}");
            let (sent, _, item) = rig.direct_turn(&text).await?;
            let direct_at = item.context("the direct client never saw the agent message")?;
            let (abg_at, _) = rig.mcp.inbox.wait(|v| is_channel_push(v, &text)).await?;
            let (direct_sent, direct_started, _) =
                rig.direct_turn(&format!("direct {text}")).await?;
            rig.mock.push(Step::text(format!("answer {text}")));
            let (_, wrote) = rig
                .mcp
                .reply(&format!("reply {text}"), &format!("toolu_r{i}"))
                .await?;
            let (abg_started, _) = rig
                .direct
                .inbox
                .wait(|v| v["method"] == "turn/started")
                .await?;
            rig.direct
                .inbox
                .wait(|v| v["method"] == "turn/completed")
                .await?;
            if i >= warmup {
                h.c2c_overhead.push(signed_ms(abg_at, direct_at));
                h.c2c_direct.push(ms(direct_at.duration_since(sent)));
                let direct = ms(direct_started.duration_since(direct_sent));
                h.x2c_overhead
                    .push(ms(abg_started.duration_since(wrote)) - direct);
                h.x2c_direct.push(direct);
            }
        }
        Ok::<_, anyhow::Error>(h)
    };
    run.await.map_err(|e| format!("{e:#}"))
}
