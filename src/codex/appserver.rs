//! The pair's `codex app-server`, owned by the daemon.
//!
//! Why it exists: the human's TUI and the daemon must share one app-server
//! process (one writer per thread), listening on the pair's port and
//! refusing anyone without its token. This module starts it
//! (`--listen ws://127.0.0.1:<app port> --ws-auth capability-token
//! --ws-token-file <pair dir>/codex.token`, cwd = project root, no Codex
//! daemon auto-start), waits for its real readiness signal (the `listening
//! on` line in its stderr log, then `GET /readyz`), restarts it with backoff
//! when it dies, and stops it when the daemon shuts down (the daemon does
//! not exit before it is gone). Every start gets a fresh random 256-bit
//! token (written 0600 by the one private-file writer, read back by the
//! daemon's link and `abg codex`), so a token that leaked is never valid for
//! a later app-server. It runs under its guard (`abg appserver-guard`, see
//! `guard`) in a process group of their own and logs to a file, so a killed
//! daemon leaves it serving the TUI; the next daemon adopts it (and its
//! token file) instead of fighting over the port, and the guard ends it
//! once no daemon and no client has been there for the grace period.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;
use tokio::sync::watch;

pub use super::appstate::{AppServerState, Mode, read_state, state_file, state_path};
use crate::daemon::core::Core;
use crate::pair::Pair;

/// Oldest Codex whose app-server protocol abg was verified against.
pub const MIN_VERSION: (u64, u64, u64) = (0, 169, 0);
const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// App-server lifecycle errors.
#[derive(Debug, Error)]
pub enum AppServerError {
    #[error(
        "cannot run `{binary} --version` ({detail}); install Codex >= {} (npm install -g @openai/codex) or set codex.binary",
        min_version()
    )]
    Missing { binary: String, detail: String },
    #[error(
        "`{binary}` is Codex {found}, abg needs Codex >= {}; upgrade it (npm install -g @openai/codex)",
        min_version()
    )]
    TooOld { binary: String, found: String },
    #[error("cannot start the Codex app-server: {0}")]
    Spawn(String),
    #[error("the Codex app-server did not become ready within {0:?}; see its log")]
    NotReady(Duration),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
}

fn min_version() -> String {
    let (a, b, c) = MIN_VERSION;
    format!("{a}.{b}.{c}")
}

/// Give the next app-server a fresh random token (256 bits, hex, like the
/// pair secret but unrelated to it): written 0600 to [`token_file`] before
/// it starts, so no earlier token, leaked or not, opens it.
pub fn write_new_token(pair: &Pair) -> Result<String, AppServerError> {
    let token = crate::paths::new_secret();
    crate::paths::write_private_file(&token_file(pair), token.as_bytes())?;
    Ok(token)
}

/// The running app-server's token, as [`write_new_token`] wrote it (owner,
/// mode and shape checked).
pub fn read_token(pair: &Pair) -> Result<String, AppServerError> {
    crate::paths::read_secret_file(&token_file(pair)).map_err(|e| match e {
        crate::paths::PathsError::InvalidSecret { path, why, .. } => {
            crate::paths::PathsError::InvalidSecret {
                path,
                why,
                fix: "The next app-server start writes a new one: `abg kill`, then `abg codex`"
                    .into(),
            }
            .into()
        }
        other => other.into(),
    })
}

pub fn token_file(pair: &Pair) -> PathBuf {
    pair.dir.join("codex.token")
}
/// Written by `abg codex`: the permission mode it wants.
pub fn mode_file(pair: &Pair) -> PathBuf {
    pair.dir.join("codex.mode")
}
fn log_file(pair: &Pair) -> PathBuf {
    pair.log_dir().join("codex-app-server.log")
}

/// The mode `abg codex` asked for (yolo when unset).
pub fn read_mode(pair: &Pair) -> Mode {
    crate::restarts::read_mode(&mode_file(pair), Mode::Yolo)
}

pub fn write_mode(pair: &Pair, mode: Mode) -> Result<(), AppServerError> {
    Ok(crate::restarts::write_mode(&mode_file(pair), &mode)?)
}

/// Parse `codex-cli 0.169.0` into a version triple.
pub fn parse_version(line: &str) -> Option<(u64, u64, u64)> {
    let v = line.split_whitespace().last()?;
    let core = v.split(['-', '+']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

/// Check that `binary` is a Codex new enough; returns its version text.
pub async fn check_version(binary: &str) -> Result<String, AppServerError> {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new(binary)
            .arg("--version")
            .stdin(Stdio::null())
            // A hung one is killed when the timeout drops it.
            .kill_on_drop(true)
            .output(),
    )
    .await
    .map_err(|_| AppServerError::Missing {
        binary: binary.into(),
        detail: "timed out".into(),
    })?
    .map_err(|e| AppServerError::Missing {
        binary: binary.into(),
        detail: e.to_string(),
    })?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_version(&text) {
        Some(v) if v >= MIN_VERSION => Ok(text),
        Some(_) => Err(AppServerError::TooOld {
            binary: binary.into(),
            found: text,
        }),
        None => Err(AppServerError::Missing {
            binary: binary.into(),
            detail: format!("unexpected version output {text:?}"),
        }),
    }
}

/// The app-server's argv (after the binary).
pub fn args(port: u16, token_file: &Path, mode: Mode) -> Vec<String> {
    let mut a = vec![
        "app-server".to_string(),
        "--listen".into(),
        format!("ws://127.0.0.1:{port}"),
        "--ws-auth".into(),
        "capability-token".into(),
        "--ws-token-file".into(),
        token_file.display().to_string(),
        "-c".into(),
        "features.daemon_auto_start=false".into(),
    ];
    if mode == Mode::Yolo {
        for kv in [
            "approval_policy=\"never\"",
            "sandbox_mode=\"danger-full-access\"",
        ] {
            a.push("-c".into());
            a.push(kv.into());
        }
    }
    a
}

/// `GET /readyz` on the app port answers 200.
pub async fn ready(port: u16) -> bool {
    let Ok(client) = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
    else {
        return false;
    };
    client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

fn alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), None).is_ok()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
}

fn signal(pid: u32, sig: nix::sys::signal::Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(raw), sig);
    }
}

/// Keep the app-server running until shutdown. `ready_tx` carries a
/// generation number bumped every time a (new) app-server is ready.
pub async fn supervise(core: Arc<Core>, ready_tx: watch::Sender<u64>) {
    let server = Supervised {
        pair: core.pair().clone(),
        binary: core.config().settings.codex_binary.clone(),
        grace: core.config().settings.daemon_orphan_grace(),
        child: None,
    };
    crate::restarts::supervise(&core, &ready_tx, server).await;
}

/// The app-server as [`crate::restarts::supervise`] keeps it: `child` is
/// its guard when this daemon started it (none when adopted).
struct Supervised {
    pair: Pair,
    binary: String,
    grace: Duration,
    child: Option<tokio::process::Child>,
}

impl crate::restarts::Server for Supervised {
    type Mode = Mode;
    type State = AppServerState;
    type Error = AppServerError;
    const NAME: &'static str = "codex app-server";
    const EVENTS: &'static str = "codex.appserver";

    fn mode(&self) -> Mode {
        read_mode(&self.pair)
    }

    async fn start(&mut self, mode: Mode) -> Result<AppServerState, AppServerError> {
        let state =
            start_or_adopt(&self.pair, &self.binary, mode, self.grace, &mut self.child).await?;
        tracing::info!(
            pid = state.pid,
            port = state.port,
            ?mode,
            "codex app-server ready"
        );
        Ok(state)
    }

    fn pid_port(state: &AppServerState) -> (u32, u16) {
        (state.pid, state.port)
    }

    async fn exited(&mut self, state: &AppServerState) -> bool {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            tracing::warn!(%status, "codex app-server (guard) exited");
            self.child = None;
            if alive(state.pid) {
                // Its guard is gone: replace it by a guarded one.
                stop_server(&self.pair, state, &mut self.child).await;
            }
            return true;
        }
        self.child.is_none() && !alive(state.pid)
    }

    async fn stop(&mut self, state: &AppServerState, why: crate::restarts::Ended) {
        // After an exit there is nothing left to stop (see `exited`).
        if why != crate::restarts::Ended::Exited {
            stop_server(&self.pair, state, &mut self.child).await;
        }
    }

    fn finish(&mut self) {
        let _ = std::fs::remove_file(state_file(&self.pair));
    }
}

/// Stop the app-server (through its guard when it has one; see
/// [`super::orphan::terminate`]) and return only once it is gone, its
/// guard reaped and the state file removed. Bounded (about 10 s) whatever
/// Codex's turn is doing: a pending approval keeps it from exiting on the
/// first SIGTERM.
async fn stop_server(
    pair: &Pair,
    state: &AppServerState,
    child: &mut Option<tokio::process::Child>,
) {
    let st = state.clone();
    let how = tokio::task::spawn_blocking(move || super::orphan::terminate(&st))
        .await
        .unwrap_or(super::orphan::Stopped::Survived);
    tracing::info!(
        pid = state.pid,
        how = how.as_str(),
        "codex app-server stopped"
    );
    if let Some(mut c) = child.take()
        && tokio::time::timeout(Duration::from_secs(2), c.wait())
            .await
            .is_err()
    {
        let _ = c.start_kill();
        let _ = c.wait().await;
    }
    super::orphan::remove_state_if(&state_file(pair), state.pid);
}

/// Adopt an app-server a previous daemon left running (same pair, same
/// mode, answering), or start one.
async fn start_or_adopt(
    pair: &Pair,
    binary: &str,
    mode: Mode,
    grace: Duration,
    child: &mut Option<tokio::process::Child>,
) -> Result<AppServerState, AppServerError> {
    let port = pair.ports.app;
    if let Some(state) = read_state(pair)
        && state.port == port
        && alive(state.pid)
    {
        // Adopt only the process abg started: never hand the token to a
        // listener that took the port after it.
        let held = crate::pair::ports::held_by(port, state.pid);
        if let Err(by) = &held
            && !by.is_empty()
        {
            return Err(AppServerError::Spawn(format!(
                "port {port} is held{by}, not by the app-server abg started (pid {}); stop that process",
                state.pid
            )));
        }
        if held.is_ok() && state.mode == mode && read_token(pair).is_ok() && ready(port).await {
            tracing::info!(pid = state.pid, guard = ?state.guard, "adopting the running codex app-server");
            if !super::orphan::guard_running(&state) {
                tracing::warn!(pid = state.pid, "the adopted codex app-server has no guard");
            }
            return Ok(state);
        }
        stop_server(pair, &state, &mut None).await;
    }
    let version = check_version(binary).await?;
    write_new_token(pair)?;
    let tfile = token_file(pair);
    let log = log_file(pair);
    let io = |source| AppServerError::Io {
        path: log.clone(),
        source,
    };
    let (out, offset) = crate::restarts::open_log(&log).map_err(io)?;
    // The guard starts the app-server as its child, in the process group
    // it leads, with this log as both its streams; its stdout (a pipe)
    // reports the app-server's pid.
    let exe = std::env::current_exe()
        .map_err(|e| AppServerError::Spawn(format!("cannot find the abg executable: {e}")))?;
    let mut spawned = tokio::process::Command::new(exe)
        .arg("appserver-guard")
        .arg("--port")
        .arg(port.to_string())
        .arg("--pair-dir")
        .arg(&pair.dir)
        .arg("--grace-secs")
        .arg(grace.as_secs().to_string())
        .arg("--")
        .arg(binary)
        .args(args(port, &tfile, mode))
        .current_dir(&pair.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(out))
        .process_group(0)
        .spawn()
        .map_err(|e| AppServerError::Spawn(format!("abg appserver-guard: {e}")))?;
    let guard = spawned.id().unwrap_or(0);
    let Some(pid) = super::guard::reported_pid(&mut spawned).await else {
        let _ = spawned.start_kill();
        let _ = spawned.wait().await;
        return Err(AppServerError::Spawn(format!(
            "{binary}: {}",
            tail(&log, offset)
        )));
    };
    let end = Instant::now() + READY_TIMEOUT;
    let mut listening = false;
    loop {
        if let Ok(Some(status)) = spawned.try_wait() {
            return Err(AppServerError::Spawn(format!(
                "it exited with {status}: {}",
                tail(&log, offset)
            )));
        }
        if !listening {
            listening = tail(&log, offset).contains("listening on");
        }
        if listening && ready(port).await {
            break;
        }
        if Instant::now() >= end {
            signal(guard, nix::sys::signal::Signal::SIGTERM);
            let bound = super::orphan::STOP_BOUND + Duration::from_secs(1);
            if tokio::time::timeout(bound, spawned.wait()).await.is_err() {
                let _ = spawned.start_kill();
                let _ = spawned.wait().await;
            }
            return Err(AppServerError::NotReady(READY_TIMEOUT));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state = AppServerState {
        pid,
        port,
        mode,
        version,
        start_time: crate::daemon::pidfile::process_start_time(pid),
        guard: Some(guard),
        guard_start_time: crate::daemon::pidfile::process_start_time(guard),
    };
    crate::paths::write_private_file(
        &state_file(pair),
        serde_json::to_string(&state).unwrap_or_default().as_bytes(),
    )?;
    *child = Some(spawned);
    Ok(state)
}

/// The log written since `offset` (at most 8 KiB).
fn tail(path: &Path, offset: u64) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return String::new();
    }
    let mut buf = Vec::new();
    let _ = f.take(8192).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests;
