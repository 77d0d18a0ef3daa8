//! `abg appserver-guard` (hidden): the small process that owns the
//! lifetime of a pair's `codex app-server`.
//!
//! Why it exists: the daemon keeps the app-server out of its own process
//! group so that a killed daemon never takes the human's Codex session
//! down (the next daemon adopts it). Without an owner, an app-server
//! whose daemon is gone and whose TUI has closed would run forever. The
//! guard is that owner: the daemon starts it (its own process group, the
//! app-server log as stderr) and it starts the app-server as its child,
//! in its group, with a parent-death signal. It reports the child's pid
//! on stdout, then watches, every second, whether the pair's daemon (the
//! pid and start time its pidfile records) is alive and whether any
//! client holds a connection to the app-server's port. When neither has
//! been true for the grace period (`daemon.orphan_grace_secs`) it stops
//! the app-server and removes its state file. It stops it as well on
//! SIGTERM, SIGINT or SIGHUP (how the daemon stops it), and it exits when
//! the app-server exits, so it is never an orphan itself. It runs no
//! async runtime and loads no config: a few MiB, one wake-up per 200 ms.

use std::ffi::OsString;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use thiserror::Error;

use super::orphan::{self, FORCE_WAIT, TERM_WAIT};

/// The line the guard writes on stdout once the app-server is started:
/// `abg-appserver-guard <pid>`.
pub const PID_LINE: &str = "abg-appserver-guard";
const TICK: Duration = Duration::from_millis(200);
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// Guard errors (all before the app-server runs).
#[derive(Debug, Error)]
pub enum GuardError {
    #[error("cannot install the guard's signal handlers: {0}")]
    Signals(std::io::Error),
    #[error("cannot start {program}: {source}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
}

/// What to guard.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The app-server's port (its clients are counted on it).
    pub port: u16,
    /// The pair's state dir (`daemon.json`, `codex-appserver.json`).
    pub pair_dir: PathBuf,
    /// How long no daemon and no client may last.
    pub grace: Duration,
    pub program: OsString,
    pub args: Vec<OsString>,
}

/// Start the app-server and guard it until it exits or is stopped.
/// Returns the guard's exit code.
pub fn run(spec: &Spec) -> Result<u8, GuardError> {
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(GuardError::Signals)?;
    }
    // Lead a process group of our own (the daemon already makes us one):
    // the app-server and whatever it starts without `setsid` are in it.
    let _ = nix::unistd::setpgid(Pid::from_raw(0), Pid::from_raw(0));
    let mut child = spawn(spec)?;
    let pid = child.id();
    report(pid);
    let state_file = super::appstate::state_path(&spec.pair_dir);
    let mut unattended: Option<Instant> = None;
    let mut checked: Option<Instant> = None;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            orphan::remove_state_if(&state_file, pid);
            return Ok(exit_code(status));
        }
        if stop.load(Ordering::SeqCst) {
            stop_child(&mut child);
            orphan::remove_state_if(&state_file, pid);
            return Ok(0);
        }
        if checked.is_none_or(|t| t.elapsed() >= CHECK_EVERY) {
            checked = Some(Instant::now());
            if orphan::daemon_alive(&spec.pair_dir) || orphan::clients(spec.port) > 0 {
                unattended = None;
            } else if unattended.get_or_insert_with(Instant::now).elapsed() >= spec.grace {
                eprintln!(
                    "abg appserver-guard: no abg daemon and no client on port {} for {} s: stopping the codex app-server (pid {pid})",
                    spec.port,
                    spec.grace.as_secs()
                );
                stop_child(&mut child);
                orphan::remove_state_if(&state_file, pid);
                return Ok(0);
            }
        }
        std::thread::sleep(TICK);
    }
}

fn spawn(spec: &Spec) -> Result<Child, GuardError> {
    let err = |source| GuardError::Spawn {
        program: spec.program.to_string_lossy().into_owned(),
        source,
    };
    // The app-server writes both streams to our stderr (its log file).
    let out = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map_err(err)?;
    let guard = nix::unistd::getpid();
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args)
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::inherit());
    // SAFETY: the closure runs between fork and exec and makes only
    // async-signal-safe system calls (prctl, getppid); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // Should the guard itself die (SIGKILL, OOM), the app-server
            // is told to stop rather than left without an owner.
            nix::sys::prctl::set_pdeathsig(Signal::SIGTERM).map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != guard {
                return Err(std::io::Error::other("the guard exited during the spawn"));
            }
            Ok(())
        });
    }
    cmd.spawn().map_err(err)
}

/// Tell the daemon the app-server's pid, then let go of the pipe (a dead
/// daemon must not break us with SIGPIPE later).
fn report(pid: u32) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{PID_LINE} {pid}");
    let _ = out.flush();
    if let Ok(devnull) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&devnull);
    }
}

/// The app-server's pid as the guard `guard` reports it (read by the
/// daemon); `None` when the guard exits or says nothing within 10 s.
pub async fn reported_pid(guard: &mut tokio::process::Child) -> Option<u32> {
    use tokio::io::AsyncBufReadExt;
    let stdout = guard.stdout.take()?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .ok()?
        .ok()??;
    line.strip_prefix(PID_LINE)?.trim().parse().ok()
}

/// SIGTERM (to our group, so the app-server's own children hear it too),
/// a second SIGTERM, then SIGKILL; always reaps the child.
fn stop_child(child: &mut Child) {
    let Ok(raw) = i32::try_from(child.id()) else {
        return;
    };
    let pid = Pid::from_raw(raw);
    let group = nix::unistd::getpgrp();
    if group == nix::unistd::getpid() {
        // We get it too; the handler only sets the flag.
        let _ = killpg(group, Signal::SIGTERM);
    } else {
        let _ = kill(pid, Signal::SIGTERM);
    }
    if wait_child(child, TERM_WAIT) {
        return;
    }
    let _ = kill(pid, Signal::SIGTERM);
    if wait_child(child, FORCE_WAIT) {
        return;
    }
    let _ = kill(pid, Signal::SIGKILL);
    let _ = child.wait();
}

fn wait_child(child: &mut Child, within: Duration) -> bool {
    let end = Instant::now() + within;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn exit_code(status: std::process::ExitStatus) -> u8 {
    match (status.code(), status.signal()) {
        (Some(c), _) => u8::try_from(c).unwrap_or(1),
        (None, Some(sig)) => u8::try_from(128 + sig).unwrap_or(1),
        _ => 1,
    }
}
