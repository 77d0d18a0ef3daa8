//! Running one e2e scenario: its own thread, network namespace, runtime, temp
//! tree, timing, teardown and stray-process check.
//!
//! Why it exists: the reference requires every real CLI to run where nothing
//! can leave 127.0.0.1. A network namespace is per *thread* on Linux, and a
//! thread's children, sockets and new threads inherit it. So each scenario
//! runs on a fresh OS thread that `unshare(CLONE_NEWNET)`s itself and brings
//! `lo` up; the tokio runtime, the in-process mocks, the WebSocket clients,
//! tmux and every CLI it starts then all share that one private namespace,
//! while the rest of the test process stays in the host's. Where that is not
//! possible (not root, no unshare), the scenario still runs, with only the
//! env-level "no traffic" settings, and says so.

use std::future::Future;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::{Result, anyhow};
use futures_util::FutureExt;
use std::panic::AssertUnwindSafe;

use super::clis::{self, Clis, Need};
use super::diag::{Diagnostics, REPORT_MARKER};
use super::env::{TestEnv, Vars};
use super::procs::{self, ChildProc};
use super::tui::Tui;

/// How the CLIs were cut off from the outside.
#[derive(Clone, Debug)]
pub enum Isolation {
    /// A private network namespace with only `lo`.
    Netns,
    /// Only the env vars and config that disable outside traffic.
    EnvOnly(String),
}

impl std::fmt::Display for Isolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Isolation::Netns => write!(f, "netns"),
            Isolation::EnvOnly(why) => write!(f, "env-only ({why})"),
        }
    }
}

/// What a scenario body gets.
pub struct Scenario {
    pub name: String,
    pub env: Arc<TestEnv>,
    pub diag: Diagnostics,
    pub clis: &'static Clis,
    pub isolation: Isolation,
}

impl Scenario {
    /// Starts a background process (own process group, output in
    /// `logs/<name>.log`, which is added to the failure report).
    pub fn spawn(
        &self,
        name: &str,
        program: &Path,
        args: &[&str],
        env: &Vars,
    ) -> Result<ChildProc> {
        let log = self.env.log_path(&format!("{name}.log"));
        self.diag.add_file(&format!("{name} output"), &log, 40);
        ChildProc::spawn(name, program, args, env, &self.env.workdir, log)
    }

    /// Starts a TUI in its own tmux server, in the workdir.
    pub fn tui(&self, name: &str, program: &Path, args: &[&str], env: &Vars) -> Result<Tui> {
        Tui::start(
            name,
            &self.env.root,
            &self.env.workdir,
            program,
            args,
            env,
            &self.diag,
        )
    }
}

/// Runs a scenario if the CLIs it needs are installed (see
/// [`clis::require`]). Prints the isolation mode and the wall time; panics
/// with the diagnostics report when the body fails or leaves a process
/// behind.
pub fn run<F, Fut>(name: &str, need: Need, body: F)
where
    F: FnOnce(Scenario) -> Fut + Send + 'static,
    Fut: Future<Output = Result<()>>,
{
    let Some(clis) = clis::require(need) else {
        return;
    };
    let name = name.to_string();
    let thread = std::thread::Builder::new()
        .name(format!("e2e-{name}"))
        .spawn(move || run_on_this_thread(&name, clis, body))
        .expect("spawning the scenario thread");
    match thread.join() {
        Ok(Ok(())) => {}
        Ok(Err(msg)) => panic!("{msg}"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn run_on_this_thread<F, Fut>(name: &str, clis: &'static Clis, body: F) -> Result<(), String>
where
    F: FnOnce(Scenario) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    let started = Instant::now();
    let isolation = match isolate_this_thread() {
        Ok(()) => Isolation::Netns,
        Err(why) => Isolation::EnvOnly(why),
    };
    super::announce(&format!("e2e isolation: {isolation}"));
    let ns = netns_id();
    let escaped = Arc::new(AtomicBool::new(false));
    let rt = {
        let (ns, escaped) = (ns.clone(), escaped.clone());
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .on_thread_start(move || {
                if netns_id() != ns {
                    escaped.store(true, Ordering::SeqCst);
                }
            })
            .build()
            .map_err(|e| format!("building the runtime: {e}"))?
    };
    let env = Arc::new(TestEnv::new(name, clis).map_err(|e| format!("{e:#}"))?);
    let diag = Diagnostics::default();
    let scenario = Scenario {
        name: name.to_string(),
        env: env.clone(),
        diag: diag.clone(),
        clis,
        isolation: isolation.clone(),
    };
    let result: Result<()> = rt.block_on(async {
        // A panic (a plain `assert!`) still gets teardown and the report.
        let outcome = AssertUnwindSafe(body(scenario))
            .catch_unwind()
            .await
            .unwrap_or_else(|panic| Err(anyhow!("panicked: {}", panic_text(&*panic))));
        // Everything the body started is dropped (killed) by now.
        let strays = procs::assert_no_strays(&env.root, std::time::Duration::from_secs(5)).await;
        match (outcome, strays) {
            (Ok(()), strays) => strays,
            (Err(e), Ok(())) => Err(e),
            (Err(e), Err(s)) => Err(anyhow!("{e:#}\nand at teardown: {s:#}")),
        }
    });
    let result = result.and_then(|()| {
        if escaped.load(Ordering::SeqCst) {
            Err(anyhow!(
                "a runtime thread started outside the scenario's network namespace"
            ))
        } else {
            Ok(())
        }
    });
    drop(rt);
    super::announce(&format!(
        "e2e scenario {name}: {:.2} s [{isolation}]{}",
        started.elapsed().as_secs_f64(),
        if result.is_ok() { "" } else { " FAILED" }
    ));
    result.map_err(|e| {
        let msg = format!("e2e scenario {name} failed: {e:#}");
        if msg.contains(REPORT_MARKER) {
            msg
        } else {
            format!("{msg}{}", diag.report())
        }
    })
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(non-string panic payload)".into())
}

/// The network namespace of the calling thread.
fn netns_id() -> String {
    std::fs::read_link("/proc/thread-self/ns/net")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Moves the calling thread into a new network namespace with `lo` up.
/// On any failure the thread is put back and the reason returned.
fn isolate_this_thread() -> Result<(), String> {
    use nix::libc;
    if std::env::var("ABG_E2E_NO_NETNS").is_ok_and(|v| v == "1") {
        return Err("ABG_E2E_NO_NETNS=1".into());
    }
    if !nix::unistd::geteuid().is_root() {
        return Err("not root, cannot create a network namespace".into());
    }
    let original = std::fs::File::open("/proc/thread-self/ns/net")
        .map_err(|e| format!("cannot open /proc/thread-self/ns/net: {e}"))?;
    // SAFETY: plain syscall; CLONE_NEWNET only changes the calling thread's
    // network namespace (other threads of the process are unaffected).
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        ));
    }
    if let Err(e) = loopback_up().and_then(|()| loopback_works()) {
        // SAFETY: plain syscall on a valid namespace fd we hold open.
        unsafe { libc::setns(original.as_raw_fd(), libc::CLONE_NEWNET) };
        return Err(format!("bringing lo up in the new namespace: {e}"));
    }
    Ok(())
}

/// `ip link set lo up`, in-process (SIOCGIFFLAGS / SIOCSIFFLAGS).
fn loopback_up() -> std::io::Result<()> {
    use nix::libc;
    let sock = std::net::UdpSocket::bind(("0.0.0.0", 0))?;
    // SAFETY: `ifreq` is plain old data; zeroed is a valid value.
    let mut ifr: libc::ifreq = unsafe { std::mem::zeroed() };
    for (slot, b) in ifr.ifr_name.iter_mut().zip(b"lo\0") {
        *slot = *b as libc::c_char;
    }
    // SAFETY: valid socket fd and a properly initialised `ifreq` that lives
    // across both calls.
    unsafe {
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCGIFFLAGS, &mut ifr) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        ifr.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
        if libc::ioctl(sock.as_raw_fd(), libc::SIOCSIFFLAGS, &ifr) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// A TCP round trip on 127.0.0.1 inside the namespace.
fn loopback_works() -> std::io::Result<()> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let _c = std::net::TcpStream::connect(l.local_addr()?)?;
    l.accept().map(|_| ())
}
