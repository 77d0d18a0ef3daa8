//! Child processes that die with the test, and `/proc` scans that prove it.
//!
//! Why it exists: the real CLIs can leave processes behind (Codex's
//! auto-started app-server daemon outlived its TUI in the reference runs).
//! Every process a test starts is put in its own process group and killed by
//! group on drop; afterwards the scenario scans `/proc` for any process whose
//! command line or environment still mentions the test's temp dir, and fails
//! the test if one survived.

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::env::Vars;

/// A child started in its own process group, with stdout and stderr in a log
/// file. Dropping it kills the whole group (TERM, then KILL) and reaps it.
pub struct ChildProc {
    pub name: String,
    pub log: PathBuf,
    child: Option<Child>,
}

impl ChildProc {
    /// Starts `program args` in `cwd` with exactly `env` (nothing inherited).
    pub fn spawn(
        name: &str,
        program: &Path,
        args: &[&str],
        env: &Vars,
        cwd: &Path,
        log: PathBuf,
    ) -> Result<Self> {
        let out = File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let child = Command::new(program)
            .args(args)
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("spawning {name}: {}", program.display()))?;
        Ok(Self {
            name: name.to_string(),
            log,
            child: Some(child),
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `Some(status)` once the child has exited.
    pub fn try_exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Kills the process group and reaps the child. Idempotent.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pgid = Pid::from_raw(child.id() as i32);
            let _ = killpg(pgid, Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            // Whatever is left in the group (grandchildren included).
            let _ = killpg(pgid, Signal::SIGKILL);
            let _ = child.wait();
        }
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A process seen in `/proc`.
#[derive(Clone, Debug)]
pub struct ProcInfo {
    pub pid: i32,
    pub session: i32,
    pub cmdline: String,
}

/// Live (non-zombie) processes other than this one, with their session id;
/// `filter` sees the raw cmdline and environ bytes.
fn scan(filter: impl Fn(&ProcInfo, &[u8], &[u8]) -> bool) -> Vec<ProcInfo> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if pid == me {
            continue;
        }
        let dir = e.path();
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue;
        };
        // Fields after the parenthesised command name: state ppid pgrp session.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") || fields.len() < 4 {
            continue;
        }
        let session = fields[3].parse().unwrap_or(0);
        let cmd = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let environ = std::fs::read(dir.join("environ")).unwrap_or_default();
        let info = ProcInfo {
            pid,
            session,
            cmdline: String::from_utf8_lossy(&cmd)
                .replace('\0', " ")
                .trim()
                .to_string(),
        };
        if filter(&info, &cmd, &environ) {
            found.push(info);
        }
    }
    found
}

/// Processes whose cmdline or environment contains `needle` (the test's
/// root dir: every child's `HOME` is under it).
pub fn referencing(needle: &Path) -> Vec<ProcInfo> {
    let needle = needle.as_os_str().as_encoded_bytes().to_vec();
    scan(|_, cmd, environ| contains(cmd, &needle) || contains(environ, &needle))
}

/// Processes in session `sid` (everything a tmux pane started, unless it
/// called `setsid` itself).
pub fn session_members(sid: i32) -> Vec<ProcInfo> {
    scan(|p, _, _| p.session == sid)
}

/// Whether `pid` exists and is not a zombie (an orphan's zombie can linger
/// until init reaps it, which here takes about a second).
pub fn is_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().next().map(|state| state != "Z")
        })
        .unwrap_or(false)
}

/// Waits (at most `within`) for `pids` to end, then SIGKILLs each one
/// left and its process group (abg's server children lead their own).
pub async fn end_pids(pids: &[i32], within: Duration) {
    let end = Instant::now() + within;
    while Instant::now() < end && pids.iter().any(|p| is_alive(*p)) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for &p in pids {
        if is_alive(p) {
            let _ = killpg(Pid::from_raw(p), Signal::SIGKILL);
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
    }
}

/// SIGKILLs each pid, ignoring ones already gone.
pub fn kill_all(procs: &[ProcInfo]) {
    for p in procs {
        let _ = kill(Pid::from_raw(p.pid), Signal::SIGKILL);
    }
}

/// After teardown: waits (bounded) until no process references `root`. If
/// some survive, kills them and fails, naming them.
pub async fn assert_no_strays(root: &Path, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = referencing(root);
        if left.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            kill_all(&left);
            let list = left
                .iter()
                .map(|p| format!("  pid {} (session {}): {}", p.pid, p.session, p.cmdline))
                .collect::<Vec<_>>()
                .join("\n");
            bail!("stray processes from this test survived teardown (now killed):\n{list}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// A free TCP port on 127.0.0.1 of the current network namespace (bind 0,
/// read it back, release it for the child that will listen on it).
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    Ok(l.local_addr()?.port())
}

/// Waits until `127.0.0.1:port` answers `GET path` with status 200 (raw
/// HTTP/1.0 so no proxy settings can interfere), or `child` exits.
pub async fn wait_http_ok(
    port: u16,
    path: &str,
    child: &mut ChildProc,
    timeout: Duration,
) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let req = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
            if s.write_all(req.as_bytes()).await.is_ok() {
                let mut buf = Vec::new();
                let read =
                    tokio::time::timeout(Duration::from_secs(2), s.read_to_end(&mut buf)).await;
                if read.is_ok() && buf.starts_with(b"HTTP/1.") && buf.get(9..12) == Some(b"200") {
                    return Ok(());
                }
            }
        }
        if let Some(status) = child.try_exit_status() {
            bail!(
                "{} exited ({status}) before 127.0.0.1:{port}{path} answered 200",
                child.name
            );
        }
        if Instant::now() >= deadline {
            bail!("127.0.0.1:{port}{path} did not answer 200 within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
