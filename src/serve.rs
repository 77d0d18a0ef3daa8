//! The daemon process itself (`abg daemon`, spawned detached by
//! `daemon::ensure`), which sits above the daemon's core, the control
//! server and the web UI and wires them together:
//! bind the control port first (a loser of that race exits without
//! touching the winner's files, naming the port's holder), raise the
//! open-file limit, build the core with the peers and components the
//! composition root registered ([`Setup`]), publish the pidfile, serve
//! ([`accept`]) and start the peers and components until asked to stop,
//! idle out, or receive SIGTERM/SIGINT, then clean up: the daemon exits
//! only after each peer's own tasks have stopped what they own (the Codex
//! app-server and its guard). Its stdout is the spawner's readiness pipe:
//! one [`READY_LINE`], or one [`FAILED_LINE`] with the reason it cannot
//! start.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::config::Config;
use crate::control::accept;
use crate::control::guard::Guard;
use crate::control::protocol::{PROTOCOL_VERSION, Phase};
use crate::control::server;
use crate::daemon::core::{Component, Core};
use crate::daemon::ensure::{FAILED_LINE, KILLED, READY_LINE};
use crate::daemon::peer::Peers;
use crate::daemon::pidfile::{self, DaemonFile};
use crate::pair::Pair;
use crate::store::Store;
use crate::web::auth::UiAuth;

/// Test-only knob: the idle limit in seconds, overriding
/// `daemon.idle_shutdown_minutes` (whose unit is too coarse for tests).
/// Not a configuration key; documented as test-only in the README.
pub const TEST_IDLE_SECS_ENV: &str = "ABG_TEST_IDLE_SHUTDOWN_SECS";

/// How long shutdown waits for each peer's own tasks (the Codex link and
/// its app-server's stop, itself bounded at about 10 s).
const PEER_STOP_BOUND: Duration = Duration::from_secs(30);

/// What the composition root registers with a daemon: its peers, the
/// components told of core events, and extra HTTP routes.
pub struct Setup {
    pub peers: Peers,
    pub components: Vec<Arc<dyn Component>>,
    pub routes: fn(Arc<Core>) -> axum::Router,
}

impl Setup {
    /// The whole HTTP app of a daemon on control port `port`: the control
    /// plane with the web UI's and the root's routes, guarded by the pair
    /// `secret`, the UI's paths by `ui`.
    pub fn app(&self, core: &Arc<Core>, port: u16, secret: &str, ui: Arc<UiAuth>) -> axum::Router {
        let guard = Guard::new(port, secret).with_gate(Arc::clone(&ui) as _);
        let extra = crate::web::router(Arc::clone(core), self.peers.clone(), ui)
            .merge((self.routes)(Arc::clone(core)));
        server::router(Arc::clone(core), self.peers.clone(), guard, extra)
    }

    /// A core over `store` with these peers and components (nothing
    /// started yet); each peer is recorded in the store's `peers` table
    /// with how it takes messages.
    pub fn core(
        &self,
        pair: Pair,
        config: Config,
        mut store: Store,
    ) -> Result<Arc<Core>, crate::store::StoreError> {
        let infos: Vec<_> = self.peers.iter().map(|p| p.info()).collect();
        for p in &infos {
            store.register_peer(p.id, Some(p.model))?;
        }
        Ok(Core::new(
            pair,
            config,
            store,
            infos,
            self.components.clone(),
        ))
    }
}

/// Run the daemon for `pair` until it stops. Returns when shut down.
pub fn run(pair: Pair, config: Config, setup: Setup) -> anyhow::Result<()> {
    let result = run_inner(pair, config, setup);
    if let Err(e) = &result {
        // Before readiness this reaches the spawner; after it, /dev/null.
        signal_failed(&format!("{e:#}"));
    }
    result
}

fn run_inner(pair: Pair, config: Config, setup: Setup) -> anyhow::Result<()> {
    // Leave the launching terminal's session so its hangup never reaches us.
    let _ = nix::unistd::setsid();
    if pair.killed_file().exists() {
        anyhow::bail!(KILLED);
    }
    // A default recipient the pair does not have is a config error the
    // spawner reports, not a daemon that relays to nobody.
    crate::daemon::routing::check_default(&config.settings.routing_default_to, &setup.peers.ids())
        .map_err(anyhow::Error::msg)?;
    // Before binding anything: a daemon never serves with a malformed
    // secret (an empty one would accept requests without credentials).
    let secret = pair.secret().context("cannot read the pair secret")?;
    let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, pair.ports.control);
    let std_listener = match std::net::TcpListener::bind(addr) {
        Ok(l) => l,
        // Another daemon won the race, or a foreign process holds the
        // port: touch nothing, say who holds it.
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {
            let owner = crate::pair::ports::describe_owner(pair.ports.control);
            anyhow::bail!(
                "cannot listen on {addr}: port {} is held{}",
                pair.ports.control,
                if owner.is_empty() {
                    " by a process abg cannot see".to_string()
                } else {
                    owner
                }
            );
        }
        Err(e) => return Err(e).with_context(|| format!("cannot bind {addr}")),
    };
    std_listener.set_nonblocking(true)?;
    let fd_limit = accept::raise_fd_limit();
    crate::daemon::logging::init(
        &pair.log_file(),
        &config.settings.log_level,
        config.settings.log_max_bytes,
        config.settings.log_max_files,
    )?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let limits = accept::Limits {
        max_connections: config.settings.control_max_connections,
        header_timeout: config.settings.control_header_timeout(),
    };
    let limits = match fd_limit {
        Ok(fds) => {
            let fitted = limits.fit_fd_limit(fds);
            tracing::info!(
                fd_limit = fds,
                max_connections = fitted.max_connections,
                "control port connection cap"
            );
            fitted
        }
        Err(e) => {
            tracing::warn!("cannot read the open-file limit: {e}");
            limits
        }
    };
    let result = runtime.block_on(serve(
        pair.clone(),
        config,
        setup,
        std_listener,
        limits,
        secret,
    ));
    pidfile::remove_if_ours(&pair, std::process::id());
    if let Err(e) = &result {
        tracing::error!("daemon stopped with an error: {e:#}");
    }
    tracing::info!("daemon stopped");
    result
}

async fn serve(
    pair: Pair,
    config: Config,
    setup: Setup,
    std_listener: std::net::TcpListener,
    limits: accept::Limits,
    secret: String,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::from_std(std_listener)?;
    let mut store = Store::open(&pair.store_file())
        .with_context(|| format!("cannot open the store {}", pair.store_file().display()))?;
    store
        .checkpoint_in_background()
        .context("cannot start the store's checkpoint thread")?;
    let core = setup
        .core(pair.clone(), config, store)
        .context("cannot record the pair's peers in the store")?;
    let peers = setup.peers.clone();
    let pid = std::process::id();
    let mut file = DaemonFile {
        pid,
        start_time: pidfile::process_start_time(pid),
        version: crate::version().to_string(),
        protocol: PROTOCOL_VERSION,
        control_port: pair.ports.control,
        phase: Phase::Booting,
        started_ms: core.started_ms(),
    };
    pidfile::write(&pair, &file)?;
    tracing::info!(pair = %pair.id, port = pair.ports.control, pid, version = crate::version(), "daemon starting");

    let ui =
        Arc::new(UiAuth::new(pair.ports.control, &secret).persisted_in(pair.ui_sessions_file()));
    let app = setup.app(&core, pair.ports.control, &secret, ui);
    let server = tokio::spawn(accept::serve(listener, app, limits, core.shutdown_signal()));

    // Signal handlers before readiness: a SIGTERM right after "ready"
    // must shut down cleanly, not kill the process outright.
    match signals() {
        Ok(streams) => {
            tokio::spawn(watch_signals(Arc::clone(&core), streams));
        }
        Err(e) => tracing::warn!("cannot install signal handlers: {e}"),
    }
    core.set_phase(Phase::Ready);
    file.phase = Phase::Ready;
    pidfile::write(&pair, &file)?;
    signal_ready();
    tracing::info!("daemon ready");

    if let Some(limit) = idle_limit(&core) {
        tokio::spawn(watch_idle(Arc::clone(&core), limit));
    }
    let mut owned = Vec::new();
    for peer in peers.iter() {
        if let Some(task) = Arc::clone(peer).start(Arc::clone(&core)) {
            owned.push((peer.id(), task));
        }
    }
    for component in core.components() {
        // Component tasks end with the runtime; nothing of theirs outlives it.
        let _ = Arc::clone(component).start(Arc::clone(&core));
    }

    if let Err(e) = server.await {
        tracing::error!("server task failed: {e}");
    }
    // The runtime is dropped when this returns, cancelling every task: a
    // peer's own tasks must have stopped what they own by then (the Codex
    // link its app-server, cut off after its first SIGTERM, which Codex
    // ignores while a turn runs).
    for (id, task) in owned {
        if tokio::time::timeout(PEER_STOP_BOUND, task).await.is_err() {
            tracing::error!(
                peer = id.as_str(),
                "the peer's tasks did not stop within {PEER_STOP_BOUND:?}"
            );
        }
    }
    core.with_store(|s| {
        if let Err(e) = s.checkpoint() {
            tracing::warn!("store checkpoint on shutdown failed: {e}");
        }
    });
    Ok(())
}

/// Tell the spawner we are ready, then detach stdout from its pipe.
fn signal_ready() {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{READY_LINE} {}", std::process::id());
    let _ = out.flush();
    if let Ok(devnull) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        let _ = nix::unistd::dup2_stdout(&devnull);
    }
}

/// Tell the spawner why we cannot start (one line).
fn signal_failed(reason: &str) {
    let line: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{FAILED_LINE} {line}");
    let _ = out.flush();
}

type SignalStreams = (tokio::signal::unix::Signal, tokio::signal::unix::Signal);

/// Install the SIGTERM and SIGINT handlers.
fn signals() -> std::io::Result<SignalStreams> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok((
        signal(SignalKind::terminate())?,
        signal(SignalKind::interrupt())?,
    ))
}

async fn watch_signals(core: Arc<Core>, (mut term, mut int): SignalStreams) {
    tokio::select! {
        _ = term.recv() => core.request_shutdown("SIGTERM"),
        _ = int.recv() => core.request_shutdown("SIGINT"),
    }
}

/// The idle limit: [`TEST_IDLE_SECS_ENV`] when set, else the config's.
fn idle_limit(core: &Core) -> Option<Duration> {
    match std::env::var(TEST_IDLE_SECS_ENV)
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(secs) if secs > 0 => Some(Duration::from_secs(secs)),
        _ => core.config().settings.daemon_idle_shutdown(),
    }
}

/// Stop the daemon once no agent has been attached for `limit`.
async fn watch_idle(core: Arc<Core>, limit: Duration) {
    let mut stop = core.shutdown_signal();
    let tick = (limit / 4).clamp(Duration::from_millis(200), Duration::from_secs(30));
    loop {
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
        if core.idle_for().is_some_and(|idle| idle >= limit) {
            core.request_shutdown("idle: no agent attached");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::Role;

    fn core(dir: &std::path::Path) -> Arc<Core> {
        crate::peers::test_core(dir)
    }

    #[tokio::test]
    async fn idles_out_only_without_agents() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let core = core(tmp.path());
        let guard = core.attach(Role::Peer(crate::codex::PEER));
        let watcher = tokio::spawn(watch_idle(Arc::clone(&core), Duration::from_millis(300)));
        let mut stop = core.shutdown_signal();
        // Attached: no shutdown within several idle periods.
        let early = tokio::time::timeout(Duration::from_millis(900), stop.wait_for(|s| *s))
            .await
            .is_err();
        assert!(early, "must not idle out while an agent is attached");
        drop(guard);
        let later = tokio::time::timeout(Duration::from_secs(5), stop.wait_for(|s| *s))
            .await
            .is_ok();
        assert!(later, "idles out once the last agent detached");
        watcher.await.expect("watcher");
    }

    #[tokio::test]
    async fn cli_connections_do_not_count_as_attached() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let core = core(tmp.path());
        let _cli = core.attach(Role::Cli);
        let _watcher = tokio::spawn(watch_idle(Arc::clone(&core), Duration::from_millis(200)));
        let mut stop = core.shutdown_signal();
        let r = tokio::time::timeout(Duration::from_secs(5), stop.wait_for(|s| *s))
            .await
            .is_ok();
        assert!(r);
    }
}
