//! Whole-process figures of the real binary: short commands (wall and
//! peak RSS beside `true`), `abg status` against a warm daemon, daemon
//! spawn → ready (its readiness line, then the control plane answering),
//! the `abg status` cold path through `ensure`, and the idle daemon's RSS.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::henv::{ABG, Henv};
use super::procs::{alive, measure, rss_of, wait_until};
use super::stats::{Samples, mib, ms};

/// Wall (ms) and peak RSS (MiB) of one command over repeated runs.
#[derive(Debug, Default, Clone)]
pub struct Cmd {
    pub wall: Samples,
    pub rss: Samples,
}

impl Cmd {
    fn run(&mut self, c: &mut Command) -> anyhow::Result<()> {
        let r = measure(c)?;
        if !r.success {
            bail!("{c:?} failed");
        }
        self.wall.push(ms(r.wall));
        self.rss.push(mib(r.max_rss_kib));
        Ok(())
    }
}

#[derive(Debug, Default, Clone)]
pub struct Short {
    pub truth: Cmd,
    pub version: Cmd,
    pub pair: Cmd,
    pub status_warm: Cmd,
}

/// `true`, `abg --version`, `abg pair --json` interleaved, then `abg
/// status` with the daemon warm (started first, outside the timing).
pub fn short_commands(env: &Henv, runs: usize) -> anyhow::Result<Short> {
    let mut s = Short::default();
    let _ = env.json(&["status", "--json"]);
    for _ in 0..runs {
        s.truth.run(&mut env.command("true"))?;
        s.version.run(&mut env.abg(&["--version"]))?;
        s.pair.run(&mut env.abg(&["pair", "--json"]))?;
        s.status_warm.run(&mut env.abg(&["status"]))?;
    }
    Ok(s)
}

#[derive(Debug, Default, Clone)]
pub struct Spawn {
    /// Spawn → readiness line on stdout, ms.
    pub ready_line: Samples,
    /// Spawn → first `GET /healthz` answered 200, ms.
    pub answering: Samples,
    /// Cold `abg status` (spawn through `ensure`), ms.
    pub ensure_cold: Samples,
    /// VmRSS / VmHWM of the settled idle daemon, MiB.
    pub idle_rss: Samples,
    pub idle_hwm: Samples,
}

struct Pair {
    dir: PathBuf,
    control: u16,
}

fn daemon_pid(p: &Pair) -> Option<u32> {
    let text = std::fs::read_to_string(p.dir.join("daemon.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    u32::try_from(v["pid"].as_u64()?).ok()
}

fn stop(pid: u32) -> anyhow::Result<()> {
    let raw = nix::unistd::Pid::from_raw(i32::try_from(pid)?);
    let _ = nix::sys::signal::kill(raw, nix::sys::signal::Signal::SIGTERM);
    if !wait_until(Duration::from_secs(10), || !alive(pid)) {
        bail!("daemon {pid} did not stop on SIGTERM");
    }
    Ok(())
}

/// One plain HTTP request; true on a 200 answer.
fn healthz(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let req =
        format!("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    buf[..n].starts_with(b"HTTP/1.1 200")
}

/// Spawn `abg daemon` as `ensure` does and time it to ready; then let it
/// settle for `settle` and read its memory.
fn spawn_once(env: &Henv, p: &Pair, settle: Duration, s: &mut Spawn) -> anyhow::Result<()> {
    let root = env.project.display().to_string();
    let start = Instant::now();
    let mut child = env
        .command(ABG)
        .args(["--pair", "main", "daemon", "--root", &root])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let out = child.stdout.take().context("daemon stdout")?;
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line)?;
    let ready = start.elapsed();
    if !line.starts_with("abg-daemon-ready") {
        bail!("daemon did not print its readiness line (got {line:?})");
    }
    while !healthz(p.control) {
        if start.elapsed() > Duration::from_secs(10) {
            bail!("the control plane never answered");
        }
    }
    let answering = start.elapsed();
    s.ready_line.push(ms(ready));
    s.answering.push(ms(answering));
    std::thread::sleep(settle);
    let (rss, hwm) = rss_of(child.id()).context("daemon /proc status")?;
    s.idle_rss.push(mib(rss));
    s.idle_hwm.push(mib(hwm));
    stop(child.id())?;
    let _ = child.wait();
    Ok(())
}

/// `runs` direct spawns (with the idle reading) interleaved with `runs`
/// cold `abg status` calls.
pub fn spawn_figures(env: &Henv, runs: usize, settle: Duration) -> anyhow::Result<Spawn> {
    let status = env.json(&["status", "--json"]);
    let p = Pair {
        dir: PathBuf::from(status["state_dir"].as_str().context("state_dir")?),
        control: u16::try_from(status["control_port"].as_u64().context("control_port")?)?,
    };
    if let Some(pid) = daemon_pid(&p) {
        stop(pid)?;
    }
    let mut s = Spawn::default();
    for _ in 0..runs {
        spawn_once(env, &p, settle, &mut s)?;
        let r = measure(&mut env.abg(&["status"]))?;
        if !r.success {
            bail!("cold abg status failed");
        }
        s.ensure_cold.push(ms(r.wall));
        let pid = daemon_pid(&p).context("no daemon after a cold abg status")?;
        stop(pid)?;
    }
    Ok(s)
}
