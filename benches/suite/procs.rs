//! Child processes measured from the outside: wall time from spawn to exit
//! and the child's own peak RSS from `wait4`'s rusage (`ru_maxrss`, the
//! same figure `/usr/bin/time -v` prints), plus `/proc/<pid>/status`
//! readings for long-lived processes.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One finished run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wall: Duration,
    /// Peak resident set of the child itself, KiB.
    pub max_rss_kib: u64,
    pub success: bool,
}

/// Run `cmd` to completion (stdout/stderr discarded) and measure it.
pub fn measure(cmd: &mut Command) -> std::io::Result<Run> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let start = Instant::now();
    let child = cmd.spawn()?;
    let pid = i32::try_from(child.id()).map_err(std::io::Error::other)?;
    let mut status = 0;
    // SAFETY: `rusage` is plain old data; wait4 fills it for our own child.
    let mut usage: nix::libc::rusage = unsafe { std::mem::zeroed() };
    let rc = loop {
        // SAFETY: valid pointers to locals; `pid` is our unreaped child.
        let rc = unsafe { nix::libc::wait4(pid, &mut status, 0, &mut usage) };
        if rc == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break rc;
    };
    let wall = start.elapsed();
    if rc != pid {
        return Err(std::io::Error::last_os_error());
    }
    // The child is reaped: `Child` must not wait on it again.
    drop(child);
    let success = nix::libc::WIFEXITED(status) && nix::libc::WEXITSTATUS(status) == 0;
    Ok(Run {
        wall,
        max_rss_kib: u64::try_from(usage.ru_maxrss).unwrap_or(0),
        success,
    })
}

/// `VmRSS` and `VmHWM` (KiB) of a running process.
pub fn rss_of(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Whether `pid` exists and is not a zombie.
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit(')')
            .next()
            .is_some_and(|r| !r.trim_start().starts_with('Z'))
    })
}

/// Poll `f` until true or `within` passes (setup waits only, never timed).
pub fn wait_until(within: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// A free TCP port on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bench: cannot find a free local port")
}
