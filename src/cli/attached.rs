//! What `abg codex` and `abg opencode` share around the agent's TUI: its
//! pid file (so a second launch in the same pair is refused while one
//! runs), running it under the PTY supervisor while this process stays
//! attached to the daemon as that agent's peer (bringing a daemon that
//! went away back up), relaunching it when the server it is attached to
//! was replaced ([`run_relaunching`]), and the TUI's exit code as ours.

use std::future::Future;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::control::protocol::{ClientFrame, PROTOCOL_VERSION, Role};
use crate::daemon::{ensure, pidfile};
use crate::pair::Pair;
use crate::pty::{LaunchSpec, RealTerminal, Supervisor, SupervisorOptions};
use crate::store::types::PeerId;

/// How long a TUI asked to stop for a relaunch gets before SIGKILL.
const RELAUNCH_GRACE: Duration = Duration::from_secs(5);

/// Run a TUI under the PTY supervisor as peer `peer` of `pair`: its pid in
/// `tui_pid` meanwhile, attached to the daemon throughout. The TUI is a
/// client of a server the daemon may replace (a restart after a crash, or
/// a new daemon after the old one was killed): `launch` waits for the
/// server and returns the TUI to run and a
/// future that completes once that server has been replaced. Then the TUI,
/// which cannot follow (it holds the old server's address and password),
/// is stopped (SIGTERM, SIGKILL after a grace) and launched again against
/// the new one, in the same terminal. The exit code is that of the TUI the
/// human quit.
pub async fn run_relaunching<F, Fut, Stale>(
    pair: &Pair,
    ready_timeout: Duration,
    peer: PeerId,
    tui_pid: &Path,
    mut launch: F,
) -> anyhow::Result<ExitCode>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<(LaunchSpec, Stale)>>,
    Stale: Future<Output = ()> + Send + 'static,
{
    write_pid(tui_pid)?;
    let holder = tokio::spawn(hold_attached(pair.clone(), ready_timeout, peer));
    let status = loop {
        let (spec, stale) = match launch().await {
            Ok(next) => next,
            Err(e) => break Err(e),
        };
        let sup = match Supervisor::spawn(spec, RealTerminal::new(), SupervisorOptions::default()) {
            Ok(sup) => sup,
            Err(e) => break Err(e.into()),
        };
        let pid = nix::unistd::Pid::from_raw(i32::try_from(sup.pid()).unwrap_or(i32::MAX));
        let replaced = Arc::new(AtomicBool::new(false));
        let watcher = tokio::spawn({
            let replaced = Arc::clone(&replaced);
            async move {
                stale.await;
                replaced.store(true, Ordering::SeqCst);
                tracing::info!(
                    pid = pid.as_raw(),
                    "its server was replaced: relaunching the TUI"
                );
                let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGTERM);
                tokio::time::sleep(RELAUNCH_GRACE).await;
                let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
            }
        });
        let ended = sup.wait_async().await;
        watcher.abort();
        if replaced.load(Ordering::SeqCst) {
            eprintln!("abg: the server the TUI was attached to was replaced; attaching again");
            continue;
        }
        break ended.map_err(Into::into);
    };
    holder.abort();
    let _ = std::fs::remove_file(tui_pid);
    Ok(ExitCode::from(exit_byte(status?.code())))
}

/// For [`run_relaunching`]'s `launch`: completes once `current` (the pid
/// the server's state file records now) names another process than `pid`,
/// the server the TUI was launched against.
pub async fn until_replaced(pid: u32, current: impl Fn() -> Option<u32>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if current().is_some_and(|now| now != pid) {
            return;
        }
    }
}

pub fn exit_byte(code: i32) -> u8 {
    u8::try_from(code.clamp(0, 255)).unwrap_or(1)
}

/// The pid of a live `abg codex` / `abg opencode` of this pair, from its pid file
/// (`<pid> <start time>`, so a recycled pid is not mistaken for it).
pub fn live_tui(path: &std::path::Path) -> Option<u32> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut parts = text.split_whitespace();
    let pid: u32 = parts.next()?.parse().ok()?;
    let start: Option<u64> = parts.next().and_then(|s| s.parse().ok());
    let now = pidfile::process_start_time(pid)?;
    // An `abg codex` (or `abg opencode`) that was killed but not reaped yet (its terminal went
    // away first) still has its /proc entry and start time: it runs no more.
    let running = !pidfile::is_zombie(pid);
    (running && (start.is_none() || start == Some(now))).then_some(pid)
}

fn write_pid(path: &std::path::Path) -> anyhow::Result<()> {
    let pid = std::process::id();
    let start = pidfile::process_start_time(pid).unwrap_or(0);
    crate::paths::write_private_file(path, format!("{pid} {start}\n").as_bytes())?;
    Ok(())
}

/// Stay attached as `peer` on the control plane while the TUI runs;
/// when the daemon goes away, bring it back (it resumes thread and queue).
async fn hold_attached(pair: Pair, ready_timeout: Duration, peer: PeerId) {
    let mut delay = Duration::from_millis(200);
    loop {
        match attach_once(&pair, peer).await {
            Ok(()) => delay = Duration::from_millis(200),
            Err(e) => tracing::debug!("control connection: {e:#}"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
        if pair.killed_file().exists() {
            return;
        }
        if let Err(e) = ensure::ensure_running_with(&pair, ready_timeout, false).await {
            tracing::debug!("cannot restart the daemon: {e:#}");
        }
    }
}

async fn attach_once(pair: &Pair, peer: PeerId) -> anyhow::Result<()> {
    let port = pair.ports.control;
    let http = crate::control::client::http_client();
    let session = crate::control::client::open_session(&http, port, &pair.secret()?).await?;
    let mut req = format!("ws://127.0.0.1:{port}/v1/ws").into_client_request()?;
    req.headers_mut()
        .insert("authorization", HeaderValue::from_str(&session)?);
    let (mut ws, _) = tokio::time::timeout(
        Duration::from_secs(3),
        tokio_tungstenite::connect_async(req),
    )
    .await
    .context("timed out connecting to the daemon")??;
    let hello = ClientFrame::Hello {
        protocol: PROTOCOL_VERSION,
        version: crate::version().to_string(),
        role: Role::Peer(peer),
    };
    ws.send(Message::Text(serde_json::to_string(&hello)?.into()))
        .await?;
    // Hold the socket; ping the daemon so a dead one is noticed quickly.
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut last_answer = Instant::now();
    let mut id = 0u64;
    loop {
        tokio::select! {
            msg = ws.next() => match msg {
                Some(Ok(Message::Close(_))) | None => return Ok(()),
                Some(Ok(Message::Ping(p))) => ws.send(Message::Pong(p)).await?,
                Some(Ok(_)) => last_answer = Instant::now(),
                Some(Err(e)) => return Err(e.into()),
            },
            _ = tick.tick() => {
                if last_answer.elapsed() > Duration::from_secs(6) {
                    bail!("the daemon stopped answering");
                }
                id += 1;
                let ping = serde_json::to_string(&ClientFrame::Ping { id })?;
                ws.send(Message::Text(ping.into())).await?;
            }
        }
    }
}
