//! A terminal driver for the real TUIs: tmux on a private socket.
//!
//! Why it exists: the claim under test is that the real interactive `codex`
//! and `claude` work as peers, so the tests type into their real terminal UIs
//! and read the rendered screen. Each `Tui` gets its own tmux server (socket
//! in the test dir, no user config), a 200x50 pane running the command with
//! an explicit `env -i` environment, typing with the settle delay the
//! reference requires, bounded polling waits that fail with the screen and
//! the registered logs, and teardown that kills everything the pane started.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::diag::Diagnostics;
use super::env::Vars;
use super::procs;

/// Pause between typed text and Enter: text plus Enter in one burst is taken
/// as a paste and the Enter is swallowed (reference §7: 0.3–0.5 s works).
pub const TYPING_SETTLE: Duration = Duration::from_millis(400);
/// What the pane prints when the command exits.
pub const EXIT_MARKER: &str = "EXITED rc=";

/// One program running in its own tmux server.
pub struct Tui {
    name: String,
    sock: PathBuf,
    diag: Diagnostics,
    server_pid: Option<i32>,
    pane_pid: Option<i32>,
}

impl Tui {
    /// Starts `program args` in `cwd` with exactly `env`, in a new tmux server
    /// whose socket and launch script live in `dir`. The screen is added to
    /// `diag` as a section named `screen <name>`.
    pub fn start(
        name: &str,
        dir: &Path,
        cwd: &Path,
        program: &Path,
        args: &[&str],
        env: &Vars,
        diag: &Diagnostics,
    ) -> Result<Self> {
        let sock = dir.join(format!("tmux-{name}.sock"));
        let script = dir.join(format!("tui-{name}.sh"));
        let mut cmd = String::from("env -i");
        for (k, v) in env {
            cmd.push(' ');
            cmd.push_str(&shell_quote(&format!("{k}={v}")));
        }
        cmd.push(' ');
        cmd.push_str(&shell_quote(&program.to_string_lossy()));
        for a in args {
            cmd.push(' ');
            cmd.push_str(&shell_quote(a));
        }
        let body = format!(
            "#!/bin/sh\ncd {} || exit 1\n{cmd}\necho \"{EXIT_MARKER}$?\"\nsleep 300\n",
            shell_quote(&cwd.to_string_lossy())
        );
        std::fs::write(&script, body).with_context(|| format!("writing {}", script.display()))?;
        let mut tui = Self {
            name: name.to_string(),
            sock,
            diag: diag.clone(),
            server_pid: None,
            pane_pid: None,
        };
        let script_s = script.to_string_lossy().into_owned();
        tui.tmux(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "200",
            "-y",
            "50",
            "/bin/sh",
            &script_s,
        ])?;
        tui.server_pid = tui.display("#{pid}").ok().and_then(|s| s.parse().ok());
        tui.pane_pid = tui.display("#{pane_pid}").ok().and_then(|s| s.parse().ok());
        let (sock, target) = (tui.sock.clone(), tui.name.clone());
        diag.add_source(&format!("screen {name}"), move || {
            capture(&sock, &target).unwrap_or_else(|e| format!("(no screen: {e:#})"))
        });
        Ok(tui)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pid of the pane's shell (its session id).
    pub fn pane_pid(&self) -> Option<i32> {
        self.pane_pid
    }

    /// The visible screen, wrapped lines joined.
    pub fn screen(&self) -> Result<String> {
        capture(&self.sock, &self.name)
    }

    /// Types `text` literally, waits [`TYPING_SETTLE`], then presses Enter.
    pub async fn type_text(&self, text: &str) -> Result<()> {
        self.tmux(&["send-keys", "-t", &self.name, "-l", text])?;
        tokio::time::sleep(TYPING_SETTLE).await;
        self.press("Enter")
    }

    /// Sends one tmux key name (`Enter`, `Escape`, `C-c`, `Down`…).
    pub fn press(&self, key: &str) -> Result<()> {
        self.tmux(&["send-keys", "-t", &self.name, key]).map(|_| ())
    }

    /// Polls the screen every 100 ms until it contains `pattern`; returns the
    /// screen. Fails early if the program exited.
    pub async fn wait_for(&self, pattern: &str, timeout: Duration) -> Result<String> {
        self.wait_until(&format!("{pattern:?} on screen"), timeout, |s| {
            s.contains(pattern)
        })
        .await
    }

    /// Polls until `pattern` is no longer on the screen.
    pub async fn wait_gone(&self, pattern: &str, timeout: Duration) -> Result<String> {
        self.wait_until(&format!("{pattern:?} gone from screen"), timeout, |s| {
            !s.contains(pattern)
        })
        .await
    }

    /// Polls until `pred(screen)` holds. `what` describes it for the error,
    /// which carries the last screen and every registered log.
    pub async fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String> {
        let start = Instant::now();
        loop {
            let screen = self.screen()?;
            if pred(&screen) {
                return Ok(screen);
            }
            if screen.contains(EXIT_MARKER) {
                return Err(self.diag.with_report(format!(
                    "[{}] the program exited while waiting for {what}",
                    self.name
                )));
            }
            if start.elapsed() >= timeout {
                return Err(self.diag.with_report(format!(
                    "[{}] timed out after {timeout:?} waiting for {what}",
                    self.name
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Kills everything the pane started, then the tmux server. Idempotent;
    /// also run on drop. The last screen is kept in the diagnostics.
    pub fn stop(&mut self) {
        if self.server_pid.is_none() && self.pane_pid.is_none() {
            return;
        }
        if let Ok(screen) = self.screen() {
            // The live section can no longer render once tmux is gone.
            self.diag.set_text(&format!("screen {}", self.name), screen);
        }
        if let Some(pane) = self.pane_pid.take() {
            // The pane's shell leads its own session and process group.
            let _ = killpg(Pid::from_raw(pane), Signal::SIGKILL);
            procs::kill_all(&procs::session_members(pane));
        }
        let _ = self.tmux(&["kill-server"]);
        if let Some(server) = self.server_pid.take() {
            let deadline = Instant::now() + Duration::from_secs(2);
            while Instant::now() < deadline && procs::is_alive(server) {
                std::thread::sleep(Duration::from_millis(20));
            }
            if procs::is_alive(server) {
                let _ = kill(Pid::from_raw(server), Signal::SIGKILL);
            }
        }
    }

    fn display(&self, format: &str) -> Result<String> {
        let out = self.tmux(&["display-message", "-p", "-t", &self.name, format])?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn tmux(&self, args: &[&str]) -> Result<Output> {
        tmux(&self.sock, args)
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        self.stop();
    }
}

fn tmux(sock: &Path, args: &[&str]) -> Result<Output> {
    let dir = sock.parent().unwrap_or(Path::new("/"));
    let out = Command::new("tmux")
        .arg("-S")
        .arg(sock)
        .arg("-f")
        .arg("/dev/null")
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("TMUX_TMPDIR", dir)
        .env("TERM", "xterm-256color")
        .output()
        .context("running tmux (is it installed?)")?;
    if !out.status.success() {
        bail!(
            "tmux {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

fn capture(sock: &Path, target: &str) -> Result<String> {
    let out = tmux(sock, &["capture-pane", "-p", "-J", "-t", target])?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Single-quotes `s` for `/bin/sh`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
