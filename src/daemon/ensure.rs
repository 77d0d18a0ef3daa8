//! Client side of the daemon's lifecycle: find a pair's daemon, check its
//! version, spawn it when absent (under a startup lock, waiting on its
//! readiness pipe, with a spinner on a terminal), replace one from another
//! abg version, and stop it. A spawned daemon that cannot start (port held,
//! bad store, …) is reported at once with its own reason, never polled.

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::os::unix::fs::OpenOptionsExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::fcntl::Flock;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::pidfile::{self, DaemonFile, DaemonState};
use crate::control::client::{Client, ClientError};
use crate::control::protocol::{DaemonStatus, PROTOCOL_VERSION, Phase};
use crate::lockfile;
use crate::pair::Pair;

/// The line the daemon writes on its stdout once it is ready; `ensure`
/// waits for it instead of polling.
pub const READY_LINE: &str = "abg-daemon-ready";
/// The line the daemon writes on its stdout when it cannot start, followed
/// by the reason; `ensure` reports that reason at once.
pub const FAILED_LINE: &str = "abg-daemon-failed";
/// Why no daemon runs after `abg kill`: the daemon refuses to start, and
/// `ensure` (the verbs that would start one) says so before spawning.
pub const KILLED: &str =
    "the pair's daemon was stopped by `abg kill`; `abg claude` or `abg codex` starts it again";

/// Outcome of [`ensure_running`].
#[derive(Debug)]
pub struct Ensured {
    pub status: DaemonStatus,
    /// Whether this call started the daemon.
    pub spawned: bool,
}

/// Make sure `pair`'s daemon runs this version of abg and is ready,
/// showing a spinner on a terminal while it starts.
pub async fn ensure_running(pair: &Pair, ready_timeout: Duration) -> anyhow::Result<Ensured> {
    ensure_running_with(pair, ready_timeout, true).await
}

/// [`ensure_running`] with the spinner optional: pass `false` while an
/// agent's TUI owns the terminal.
pub async fn ensure_running_with(
    pair: &Pair,
    ready_timeout: Duration,
    show_spinner: bool,
) -> anyhow::Result<Ensured> {
    if pair.killed_file().exists() {
        bail!(KILLED);
    }
    let client = Client::for_pair(pair)?;
    if let Some(status) = probe_current(pair, &client).await? {
        return Ok(Ensured {
            status,
            spawned: false,
        });
    }
    let spinner = if show_spinner {
        spinner("starting the abg daemon…")
    } else {
        None
    };
    let lock = lock_startup(pair, ready_timeout + Duration::from_secs(5)).await?;
    // Someone may have started it while we waited for the lock.
    if let Some(status) = probe_current(pair, &client).await? {
        drop(lock);
        finish(spinner);
        return Ok(Ensured {
            status,
            spawned: false,
        });
    }
    let result = spawn_and_wait(pair, &client, ready_timeout).await;
    drop(lock);
    finish(spinner);
    result.map(|status| Ensured {
        status,
        spawned: true,
    })
}

/// A running daemon of this version, or `None` when one must be started.
/// A daemon of another version is asked to stop first.
async fn probe_current(pair: &Pair, client: &Client) -> anyhow::Result<Option<DaemonStatus>> {
    let (state, file) = pidfile::state(pair);
    let Some(file) = file else { return Ok(None) };
    if state == DaemonState::Stopped {
        return Ok(None);
    }
    match client.status().await {
        Ok(status) if status.version == crate::version() && status.protocol == PROTOCOL_VERSION => {
            if status.phase == Phase::Ready {
                return Ok(Some(status));
            }
            Ok(None)
        }
        Ok(status) => {
            tracing::info!(theirs = %status.version, "replacing a daemon of another abg version");
            stop_process(pair, Some(client), &file).await?;
            Ok(None)
        }
        Err(ClientError::Refused { status: 409, .. }) => {
            stop_process(pair, Some(client), &file).await?;
            Ok(None)
        }
        Err(ClientError::Unreachable { .. }) => Ok(None),
        // Our own daemon (the pidfile's live process holds the port) that
        // predates the handshake: replace it like one of another version.
        Err(ClientError::NotTheDaemon {
            holder_pid: Some(holder),
            answered: Some(401 | 404),
            ..
        }) if holder == file.pid && pidfile::is_alive(&file) => {
            tracing::info!(
                pid = holder,
                "replacing a daemon without the session handshake"
            );
            stop_process(pair, Some(client), &file).await?;
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

struct StartupLock {
    _lock: Flock<File>,
}

async fn lock_startup(pair: &Pair, deadline: Duration) -> anyhow::Result<StartupLock> {
    let path = pair.startup_lock();
    let at = path.clone();
    let locked = tokio::task::spawn_blocking(move || {
        lockfile::lock_within(&at, deadline, Duration::from_millis(25))
    })
    .await
    .context("the startup lock's waiter failed")?
    .with_context(|| format!("cannot open {}", path.display()))?;
    match locked {
        Some(lock) => Ok(StartupLock { _lock: lock }),
        None => bail!(
            "timed out waiting for another abg to start the daemon (lock {}); run `abg status` again",
            path.display()
        ),
    }
}

/// What the readiness pipe said.
enum Pipe {
    Ready,
    Failed(String),
    Closed,
    TimedOut,
}

async fn spawn_and_wait(
    pair: &Pair,
    client: &Client,
    ready_timeout: Duration,
) -> anyhow::Result<DaemonStatus> {
    // A stale pidfile of a dead daemon is simply replaced by the new one.
    let exe = std::env::current_exe().context("cannot find the abg executable")?;
    let stderr_log = pair.log_dir().join("daemon.stderr.log");
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&stderr_log)
        .context("cannot open the daemon's stderr log")?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let mut child = tokio::process::Command::new(exe)
        .arg("--pair")
        .arg(&pair.name)
        .arg("daemon")
        .arg("--root")
        .arg(&pair.root)
        .current_dir(&pair.root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .context("cannot spawn the abg daemon")?;
    let stdout = child.stdout.take().context("daemon stdout missing")?;
    let mut lines = BufReader::new(stdout).lines();
    let started = Instant::now();
    let pipe = tokio::time::timeout(ready_timeout, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.starts_with(READY_LINE) {
                return Pipe::Ready;
            }
            if let Some(reason) = line.strip_prefix(FAILED_LINE) {
                return Pipe::Failed(reason.trim().to_string());
            }
        }
        Pipe::Closed
    })
    .await
    .unwrap_or(Pipe::TimedOut);
    let logs = format!(
        "see {} and {}",
        pair.log_file().display(),
        stderr_log.display()
    );
    let reason = match pipe {
        Pipe::Ready => {
            return client
                .status()
                .await
                .context("the daemon said it was ready but did not answer");
        }
        Pipe::TimedOut => {
            let _ = child.start_kill();
            let owner = crate::pair::ports::describe_owner(pair.ports.control);
            bail!(
                "the abg daemon did not become ready within {ready_timeout:?}{}; {logs}",
                if owner.is_empty() {
                    String::new()
                } else {
                    format!(" (port {} is held{owner})", pair.ports.control)
                },
            );
        }
        Pipe::Failed(reason) => reason,
        Pipe::Closed => {
            // It exited (or closed the pipe) without a word: its own last
            // stderr line says why (a panic, a signal).
            let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
            let last = last_line(&stderr_log, log_start);
            match (status, last) {
                (_, Some(line)) => line,
                (Ok(Ok(status)), None) => format!("it exited ({status})"),
                _ => "it closed its readiness pipe".to_string(),
            }
        }
    };
    // A daemon of this pair that won a start race (its pidfile names the
    // port's holder) is waited for; anyone else holding the port is not.
    let winner = crate::pair::ports::owner_of(pair.ports.control).is_some_and(|(pid, _)| {
        pidfile::read(pair).is_some_and(|f| f.pid == pid && pidfile::is_alive(&f))
    });
    if winner
        && let Some(status) =
            wait_ready(client, ready_timeout.saturating_sub(started.elapsed())).await
    {
        return Ok(status);
    }
    bail!("the abg daemon could not start: {reason}; {logs}")
}

/// The last non-empty line written to `path` since `offset`.
fn last_line(path: &std::path::Path, offset: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(path).ok()?;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = Vec::new();
    f.take(64 * 1024).read_to_end(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf);
    let line = text.lines().rev().find(|l| !l.trim().is_empty())?;
    Some(line.trim().trim_start_matches("abg: ").to_string())
}

/// Poll `status` until the daemon answers ready (only after a lost start
/// race to a daemon of this pair; every poll checks the daemon's proof).
async fn wait_ready(client: &Client, within: Duration) -> Option<DaemonStatus> {
    let end = Instant::now() + within;
    let mut delay = Duration::from_millis(5);
    while Instant::now() < end {
        if let Ok(s) = client.status().await
            && s.phase == Phase::Ready
        {
            return Some(s);
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(100));
    }
    None
}

/// How a stop went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    NotRunning,
    Graceful,
    Terminated,
    Killed,
}

/// Stop `pair`'s daemon: ask it, then SIGTERM, then SIGKILL. Without a
/// usable secret (a malformed file, which `abg kill` and `abg pair rm`
/// must still get past) it goes straight to the signals.
pub async fn stop(pair: &Pair) -> anyhow::Result<Stopped> {
    let (_, file) = pidfile::state(pair);
    let Some(file) = file else {
        return Ok(Stopped::NotRunning);
    };
    let client = Client::for_pair(pair).ok();
    stop_process(pair, client.as_ref(), &file).await
}

async fn stop_process(
    pair: &Pair,
    client: Option<&Client>,
    file: &DaemonFile,
) -> anyhow::Result<Stopped> {
    let gone = |f: &DaemonFile| !pidfile::is_alive(f);
    if let Some(client) = client
        && client.shutdown().await.is_ok()
        && wait_gone(file, Duration::from_secs(5), gone).await
    {
        pidfile::remove_if_ours(pair, file.pid);
        return Ok(Stopped::Graceful);
    }
    let pid = Pid::from_raw(i32::try_from(file.pid).context("bad pid in pidfile")?);
    if pidfile::is_alive(file) {
        let _ = kill(pid, Signal::SIGTERM);
        if wait_gone(file, Duration::from_secs(3), gone).await {
            pidfile::remove_if_ours(pair, file.pid);
            return Ok(Stopped::Terminated);
        }
    }
    if pidfile::is_alive(file) {
        let _ = kill(pid, Signal::SIGKILL);
        if !wait_gone(file, Duration::from_secs(3), gone).await {
            bail!("daemon pid {} did not exit after SIGKILL", file.pid);
        }
    }
    pidfile::remove_if_ours(pair, file.pid);
    Ok(Stopped::Killed)
}

async fn wait_gone(
    file: &DaemonFile,
    within: Duration,
    gone: impl Fn(&DaemonFile) -> bool,
) -> bool {
    let end = Instant::now() + within;
    let mut delay = Duration::from_millis(2);
    loop {
        if gone(file) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(50));
    }
}

fn spinner(message: &'static str) -> Option<indicatif::ProgressBar> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(80));
    Some(bar)
}

fn finish(spinner: Option<indicatif::ProgressBar>) {
    if let Some(bar) = spinner {
        bar.finish_and_clear();
    }
}
