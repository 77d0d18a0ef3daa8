//! The pair's `opencode serve`, owned by the daemon.
//!
//! Why it exists: the human's TUI (`opencode attach`) and the daemon must
//! share one server, listening on loopback on the pair's port (the block's
//! +1) and refusing anyone without its password (HTTP Basic; the `Origin`
//! header is not checked, so the password is the only guard, reference
//! §3). This module starts it only once `abg opencode` has written the
//! mode file ([`mode_file`]), with a fresh random password per start
//! (written 0600 to [`password_file`], read back by the link and the verb),
//! in a process group of its own (its MCP servers are in it), logging to
//! `logs/opencode-server.log`. Ready means the `listening on` line named
//! the port and `/global/health` answers healthy. It restarts the server
//! with backoff when it dies or the mode changes, and on shutdown stops the
//! whole group (SIGTERM, then SIGKILL) and removes its state file. A daemon
//! that is killed takes its server along (a parent-death SIGTERM), so no
//! server outlives its daemon; one left behind anyway is stopped by the
//! next daemon before it starts its own.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use thiserror::Error;
use tokio::sync::watch;

use super::api::Api;
use super::launch::{self, Mode};
use crate::daemon::core::Core;
use crate::pair::Pair;

/// The OpenCode version abg was verified against.
pub const VERIFIED_VERSION: &str = "1.18.33";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Server lifecycle errors.
#[derive(Debug, Error)]
pub enum ServerError {
    #[error(
        "cannot start `{binary} serve` ({detail}); install OpenCode (npm install -g opencode-ai@{VERIFIED_VERSION}) or set opencode.binary"
    )]
    Spawn { binary: String, detail: String },
    #[error("`opencode serve` exited with {status}: {log}")]
    Exited { status: String, log: String },
    #[error("`opencode serve` listens on port {got}, not the pair's port {want}")]
    WrongPort { got: u16, want: u16 },
    #[error("`opencode serve` did not become ready within {0:?}; see its log")]
    NotReady(Duration),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Paths(#[from] crate::paths::PathsError),
    #[error(transparent)]
    Api(#[from] super::api::ApiError),
}

/// What the daemon records of the running server (`opencode-server.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerState {
    pub pid: u32,
    pub port: u16,
    pub mode: Mode,
    pub version: String,
    pub start_time: Option<u64>,
}

pub fn state_file(pair: &Pair) -> PathBuf {
    pair.dir.join("opencode-server.json")
}
pub fn password_file(pair: &Pair) -> PathBuf {
    pair.dir.join("opencode.password")
}
/// Written by `abg opencode`: the mode it wants. Until it exists the
/// daemon starts no OpenCode server.
pub fn mode_file(pair: &Pair) -> PathBuf {
    pair.dir.join("opencode.mode")
}
pub fn log_file(pair: &Pair) -> PathBuf {
    pair.log_dir().join("opencode-server.log")
}

pub fn read_state(pair: &Pair) -> Option<ServerState> {
    let text = std::fs::read_to_string(state_file(pair)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The mode `abg opencode` asked for (yolo when unset).
pub fn read_mode(pair: &Pair) -> Mode {
    crate::restarts::read_mode(&mode_file(pair), Mode::Yolo)
}

pub fn write_mode(pair: &Pair, mode: Mode) -> Result<(), ServerError> {
    Ok(crate::restarts::write_mode(&mode_file(pair), &mode)?)
}

/// The running server's password (owner, mode and shape checked).
pub fn read_password(pair: &Pair) -> Result<String, ServerError> {
    Ok(crate::paths::read_secret_file(&password_file(pair))?)
}

/// The API of the server `state` describes.
pub fn api(pair: &Pair, state: &ServerState) -> Result<Api, ServerError> {
    Ok(Api::new(state.port, read_password(pair)?)?)
}

/// Whether process `pid` runs (and is not a zombie) with `start_time`.
fn running(pid: u32, start_time: Option<u64>) -> bool {
    !crate::daemon::pidfile::is_zombie(pid)
        && crate::daemon::pidfile::process_start_time(pid).is_some_and(|t| Some(t) == start_time)
}

fn signal_group(pid: u32, sig: nix::sys::signal::Signal) {
    if let Ok(raw) = i32::try_from(pid) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(raw), sig);
    }
}

/// Stop the group led by `pid`: SIGTERM, then SIGKILL after 3 s.
async fn stop_group(pid: u32, start_time: Option<u64>, child: Option<&mut tokio::process::Child>) {
    signal_group(pid, nix::sys::signal::Signal::SIGTERM);
    let end = Instant::now() + Duration::from_secs(3);
    match child {
        Some(c) => {
            if tokio::time::timeout(Duration::from_secs(3), c.wait())
                .await
                .is_err()
            {
                signal_group(pid, nix::sys::signal::Signal::SIGKILL);
                let _ = c.wait().await;
            }
        }
        None => {
            while running(pid, start_time) && Instant::now() < end {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if running(pid, start_time) {
                signal_group(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
    // Its MCP servers exit on stdin EOF; anything left in the group goes now.
    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
}

/// Stop a server a killed daemon left running (recorded in the state file,
/// same process start time) and remove its state file; whether one ran.
pub async fn stop_left(pair: &Pair) -> bool {
    let old = read_state(pair).filter(|s| running(s.pid, s.start_time));
    if let Some(old) = &old {
        stop_group(old.pid, old.start_time, None).await;
    }
    let _ = std::fs::remove_file(state_file(pair));
    old.is_some()
}

/// Keep the server running until shutdown. `ready_tx` carries a generation
/// number bumped every time a (new) server is ready.
pub async fn supervise(core: Arc<Core>, ready_tx: watch::Sender<u64>) {
    let pair = core.pair().clone();
    if stop_left(&pair).await {
        tracing::info!("stopped the opencode server a previous daemon left");
    }
    let server = Supervised {
        pair,
        binary: core.config().settings.opencode_binary.clone(),
        child: None,
    };
    crate::restarts::supervise(&core, &ready_tx, server).await;
}

/// The server as [`crate::restarts::supervise`] keeps it: `child` is the
/// running one, the leader of its process group.
struct Supervised {
    pair: Pair,
    binary: String,
    child: Option<tokio::process::Child>,
}

impl crate::restarts::Server for Supervised {
    type Mode = Mode;
    type State = ServerState;
    type Error = ServerError;
    const NAME: &'static str = "opencode server";
    const EVENTS: &'static str = "opencode.server";

    fn mode(&self) -> Mode {
        read_mode(&self.pair)
    }

    async fn start(&mut self, mode: Mode) -> Result<ServerState, ServerError> {
        let (child, state) = start(&self.pair, &self.binary, mode).await?;
        self.child = Some(child);
        tracing::info!(pid = state.pid, port = state.port, ?mode, version = %state.version, "opencode server ready");
        Ok(state)
    }

    fn pid_port(state: &ServerState) -> (u32, u16) {
        (state.pid, state.port)
    }

    async fn exited(&mut self, _state: &ServerState) -> bool {
        if let Some(c) = self.child.as_mut()
            && let Ok(Some(status)) = c.try_wait()
        {
            tracing::warn!(%status, "opencode server exited");
            return true;
        }
        false
    }

    /// Whatever the reason, the whole group goes (after an exit, its MCP
    /// servers may still run).
    async fn stop(&mut self, state: &ServerState, _why: crate::restarts::Ended) {
        stop_group(state.pid, state.start_time, self.child.as_mut()).await;
        self.child = None;
        let _ = std::fs::remove_file(state_file(&self.pair));
    }

    fn finish(&mut self) {
        let _ = std::fs::remove_file(state_file(&self.pair));
    }
}

/// Start a server in `mode` and wait until it is ready.
async fn start(
    pair: &Pair,
    binary: &str,
    mode: Mode,
) -> Result<(tokio::process::Child, ServerState), ServerError> {
    let port = pair.ports.reserved;
    let password = crate::paths::new_secret();
    crate::paths::write_private_file(&password_file(pair), password.as_bytes())?;
    let log = log_file(pair);
    let io = |source| ServerError::Io {
        path: log.clone(),
        source,
    };
    let (out, offset) = crate::restarts::open_log(&log).map_err(io)?;
    let err = out.try_clone().map_err(io)?;
    let user_config = std::env::var(launch::CONFIG_ENV).ok();
    let mut cmd = tokio::process::Command::new(binary);
    cmd.args(launch::server_args(port))
        .envs(launch::server_env(mode, &password, user_config.as_deref()))
        .current_dir(&pair.root)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .process_group(0);
    let daemon = nix::unistd::getpid();
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls (prctl, getppid); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // A daemon that dies (SIGKILL, OOM) takes its server along:
            // nothing else would stop it, and the next daemon starts its
            // own (a TUI attached to this one is launched again).
            nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM)
                .map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != daemon {
                return Err(std::io::Error::other("the daemon exited during the spawn"));
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| ServerError::Spawn {
        binary: binary.into(),
        detail: e.to_string(),
    })?;
    let pid = child.id().unwrap_or(0);
    let api = Api::new(port, password)?;
    let end = Instant::now() + READY_TIMEOUT;
    let mut listening = false;
    let version = loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(ServerError::Exited {
                status: status.to_string(),
                log: tail(&log, offset),
            });
        }
        if !listening && let Some(got) = launch::listening_port(&tail(&log, offset)) {
            if got != port {
                stop_group(pid, None, Some(&mut child)).await;
                return Err(ServerError::WrongPort { got, want: port });
            }
            listening = true;
        }
        if listening && let Ok(Some(v)) = api.health().await {
            break v;
        }
        if Instant::now() >= end {
            stop_group(pid, None, Some(&mut child)).await;
            return Err(ServerError::NotReady(READY_TIMEOUT));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if version != VERIFIED_VERSION {
        tracing::warn!(%version, "untested OpenCode version (abg was verified on {VERIFIED_VERSION})");
    }
    let state = ServerState {
        pid,
        port,
        mode,
        version,
        start_time: crate::daemon::pidfile::process_start_time(pid),
    };
    crate::paths::write_private_file(
        &state_file(pair),
        serde_json::to_string(&state).unwrap_or_default().as_bytes(),
    )?;
    Ok((child, state))
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
