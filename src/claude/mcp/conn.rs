//! `abg mcp`'s side of the daemon connection: find the pair (from the
//! environment `abg claude` sets, or `--project`), decide whether this copy
//! serves at all (`--via` against the way `abg claude` chose, see
//! [`crate::claude::channel::activity`]), keep one control
//! WebSocket open with back-off across daemon restarts, and push every
//! delivered message to Claude once the MCP session is initialized,
//! reporting the push back to the daemon.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::model::{CustomNotification, ServerNotification};
use rmcp::{Peer, RoleServer};
use thiserror::Error;
use tokio::sync::{Notify, mpsc};

use super::permission::{self, Relay};
use super::push;
use crate::claude::channel::{self, Activity, Via};
use crate::claude::protocol::{ClaudePush, ClaudeRequest, PermissionRequest};
use crate::claude::wsclient::ControlLink;
use crate::config::Settings;
use crate::control::protocol::{PeerMessage, Role};
use crate::pair::Pair;

/// Env var `abg claude` sets (with `ABG_PAIR`) for the servers it launches.
pub const PROJECT_ENV: &str = "ABG_PROJECT_ROOT";

/// How `abg mcp` was started.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--project DIR` (the plugin passes `${CLAUDE_PROJECT_DIR}`).
    pub project: Option<PathBuf>,
    /// The pair name (`--pair` / `ABG_PAIR`).
    pub pair: Option<String>,
    /// How this copy was started (`--via`): the generated config or the
    /// plugin; `None` for a bare `abg mcp`.
    pub via: Option<Via>,
}

/// Why a tool cannot reach the daemon.
#[derive(Debug, Error)]
pub enum NoLink {
    #[error(
        "abg: this MCP server was not launched by abg ({0}), so it is not connected to Codex; start Claude with `abg claude`. Nothing was sent."
    )]
    Dormant(String),
    #[error("abg: {0}. Nothing was sent.")]
    Idle(String),
    #[error(
        "abg: the pair's daemon is not reachable right now; nothing was sent. abg reconnects by itself; retry in a few seconds, or run `abg status`."
    )]
    Down,
}

/// State shared by the MCP handler and the background tasks.
pub struct Shared {
    pair: Option<Pair>,
    /// `claude` (receives pushes) only when launched by `abg claude`; a
    /// plugin server in a plain `claude` session only serves the tools.
    role: Role,
    dormant: Option<String>,
    /// Set when `abg claude` loaded abg the other way: this copy does nothing.
    idle: Option<String>,
    /// The `source` Claude gives this server's channel blocks.
    source: &'static str,
    push_max: usize,
    link: Mutex<Option<ControlLink>>,
    peer: OnceLock<Peer<RoleServer>>,
    ready: Notify,
    is_ready: AtomicBool,
    /// Claude's permission relay, when this copy serves it (launched by
    /// `abg claude`, `approvals.relay` on).
    relay: Option<Arc<Relay>>,
}

/// The pair named by `opts` or the environment, with its settings; the
/// error says why there is none (the server then stays dormant).
pub fn resolve(opts: &Options) -> Result<(Pair, Settings), String> {
    let root = opts
        .project
        .clone()
        .or_else(|| {
            std::env::var_os(PROJECT_ENV)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .ok_or_else(|| format!("no --project and no {PROJECT_ENV} in the environment"))?;
    // The same resolution as every pair-aware command (`cli::Context`).
    let r = crate::pair::resolve::resolve(opts.pair.as_deref(), &root)
        .map_err(|e| format!("{:#}", anyhow::Error::from(e)))?;
    let (name, root) = (r.name, r.root);
    let pair = r
        .registry
        .find(&root, &name)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("no pair {:?} for {}", name.as_str(), root.display()))?;
    Ok((pair, r.config.settings))
}

impl Shared {
    /// Resolve the pair and start the connection and push tasks.
    pub fn start(opts: Options) -> Arc<Self> {
        let launched_by_abg = std::env::var_os(PROJECT_ENV).is_some_and(|v| !v.is_empty());
        Self::start_as(opts, Via::chosen(), launched_by_abg)
    }

    /// [`Shared::start`] with the session's facts given: the way `abg claude`
    /// chose (`ABG_CLAUDE_VIA`) and whether it launched this copy.
    pub fn start_as(opts: Options, chosen: Option<Via>, launched_by_abg: bool) -> Arc<Self> {
        let activity = channel::activity(opts.via, chosen, launched_by_abg);
        let source = opts.via.unwrap_or(Via::Generated).server_name();
        if let Activity::Idle(why) = activity {
            tracing::info!("abg mcp stays idle: {why}");
            let mut idle = Self::unconnected(why.clone());
            idle.idle = Some(why);
            idle.source = source;
            return Arc::new(idle);
        }
        let (pair, dormant, push_max, relays) = match resolve(&opts) {
            Ok((p, settings)) => (
                Some(p),
                None,
                settings.claude_push_max_bytes,
                settings.approvals_relay,
            ),
            Err(why) => {
                tracing::info!("abg mcp is dormant: {why}");
                (None, Some(why), 16_384, false)
            }
        };
        let relay = match &pair {
            Some(p) if relays && activity == Activity::Active => Some(Arc::new(Relay::new(
                hex::encode(rand::random::<[u8; 6]>()),
                Some(crate::claude::launch::Files::for_pair(p).debug),
            ))),
            _ => None,
        };
        if pair.is_some() && activity == Activity::ToolsOnly {
            tracing::info!("not launched by `abg claude`: tools only, no channel pushes");
        }
        let shared = Arc::new(Self {
            role: if activity == Activity::Active {
                Role::Peer(crate::claude::PEER)
            } else {
                Role::Cli
            },
            pair,
            dormant,
            idle: None,
            source,
            push_max,
            link: Mutex::new(None),
            peer: OnceLock::new(),
            ready: Notify::new(),
            is_ready: AtomicBool::new(false),
            relay,
        });
        if shared.pair.is_some() {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(connect_loop(Arc::clone(&shared), tx));
            tokio::spawn(push_loop(Arc::clone(&shared), rx));
            if shared.relay.is_some() {
                tokio::spawn(settle_loop(Arc::clone(&shared)));
            }
        }
        shared
    }

    /// Claude's permission relay, when this copy serves it.
    pub fn relay(&self) -> Option<&Arc<Relay>> {
        self.relay.as_ref()
    }

    /// Claude opened a permission dialog: keep it open here and forward
    /// it to the daemon (again after a reconnect if the daemon is down).
    pub async fn permission_request(&self, request: PermissionRequest) {
        let Some(relay) = &self.relay else { return };
        relay.opened(request.clone());
        let Ok(link) = self.link() else {
            tracing::info!("daemon down: the permission request waits for the reconnect");
            return;
        };
        if let Err(e) = link
            .claude(ClaudeRequest::Permission(request), Duration::from_secs(5))
            .await
        {
            tracing::warn!("cannot forward a permission request: {e}");
        }
    }

    /// The pair this server serves, if resolved (the budget tool reads it).
    pub fn pair(&self) -> Option<&Pair> {
        self.pair.as_ref()
    }

    /// A dormant, unconnected instance (tests).
    pub fn dormant(why: &str) -> Arc<Self> {
        Arc::new(Self::unconnected(why.into()))
    }

    fn unconnected(why: String) -> Self {
        Self {
            role: Role::Cli,
            pair: None,
            dormant: Some(why),
            idle: None,
            source: Via::Generated.server_name(),
            push_max: 16_384,
            link: Mutex::new(None),
            peer: OnceLock::new(),
            ready: Notify::new(),
            is_ready: AtomicBool::new(false),
            relay: None,
        }
    }

    /// The `source` attribute Claude gives this server's `<channel>` blocks.
    pub fn source(&self) -> &'static str {
        self.source
    }

    /// The live daemon connection, or why there is none.
    pub fn link(&self) -> Result<ControlLink, NoLink> {
        if let Some(why) = &self.idle {
            return Err(NoLink::Idle(why.clone()));
        }
        if let Some(why) = &self.dormant {
            return Err(NoLink::Dormant(why.clone()));
        }
        let guard = self.link.lock().unwrap_or_else(|p| p.into_inner());
        guard.clone().filter(|l| !l.is_closed()).ok_or(NoLink::Down)
    }

    fn set_link(&self, link: Option<ControlLink>) {
        *self.link.lock().unwrap_or_else(|p| p.into_inner()) = link;
    }

    /// Claude sent `notifications/initialized`: pushes may start.
    pub fn initialized(&self, peer: Peer<RoleServer>) {
        let _ = self.peer.set(peer);
        self.is_ready.store(true, Ordering::SeqCst);
        self.ready.notify_waiters();
        self.ready.notify_one();
    }

    async fn wait_ready(&self) -> Option<Peer<RoleServer>> {
        while !self.is_ready.load(Ordering::SeqCst) {
            self.ready.notified().await;
        }
        self.peer.get().cloned()
    }
}

async fn connect_loop(shared: Arc<Shared>, deliveries: mpsc::UnboundedSender<PeerMessage>) {
    let Some(pair) = shared.pair.clone() else {
        return;
    };
    let mut backoff = Duration::from_millis(200);
    loop {
        let attempt = match pair.secret() {
            Ok(secret) => ControlLink::connect(pair.ports.control, &secret, shared.role)
                .await
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match attempt {
            Ok((link, mut rx)) => {
                tracing::info!(port = pair.ports.control, "connected to the pair's daemon");
                backoff = Duration::from_millis(200);
                shared.set_link(Some(link.clone()));
                if let Some(relay) = shared.relay.clone() {
                    if let Some(pushes) = link.take_pushes() {
                        tokio::spawn(verdict_loop(Arc::clone(&shared), relay, pushes));
                    }
                    for request in shared.relay.iter().flat_map(|r| r.open_requests()) {
                        let _ = link
                            .claude(ClaudeRequest::Permission(request), Duration::from_secs(5))
                            .await;
                    }
                }
                while let Some(m) = rx.recv().await {
                    if deliveries.send(m).is_err() {
                        return;
                    }
                }
                shared.set_link(None);
                tracing::info!("lost the daemon connection; reconnecting");
            }
            Err(e) => tracing::debug!("daemon not reachable: {e}"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

async fn push_loop(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<PeerMessage>) {
    let mut pushed: HashSet<String> = HashSet::new();
    let Some(peer) = shared.wait_ready().await else {
        return;
    };
    let dir = shared.pair.as_ref().map(|p| p.dir.clone());
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(m) = rx.try_recv() {
            batch.push(m);
        }
        let mut ids = Vec::new();
        for m in batch {
            if !pushed.contains(&m.id) {
                let params = push::params(&m, shared.push_max, dir.as_deref());
                let note = CustomNotification::new(push::CHANNEL_METHOD, Some(params));
                if let Err(e) = peer
                    .send_notification(ServerNotification::CustomNotification(note))
                    .await
                {
                    tracing::warn!("cannot push to Claude: {e}");
                    return;
                }
                pushed.insert(m.id.clone());
            }
            ids.push(m.id);
        }
        if let Ok(link) = shared.link()
            && let Err(e) = link
                .claude(ClaudeRequest::Pushed { ids }, Duration::from_secs(5))
                .await
        {
            tracing::warn!("cannot report pushes to the daemon: {e}");
        }
    }
}

/// Hand each verdict the daemon pushes on this connection to Claude.
/// Verdicts for another `abg mcp` process (an earlier Claude session) are
/// dropped: their request ids mean nothing to this Claude.
async fn verdict_loop(
    shared: Arc<Shared>,
    relay: Arc<Relay>,
    mut pushes: mpsc::UnboundedReceiver<serde_json::Value>,
) {
    while let Some(push) = pushes.recv().await {
        let push = match serde_json::from_value::<ClaudePush>(push) {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!("unreadable push from the daemon: {e}");
                continue;
            }
        };
        let ClaudePush::Permission {
            session,
            request_id,
            behavior,
        } = push;
        if session != relay.session() {
            tracing::warn!(%session, "a verdict for another Claude session; not sent");
            continue;
        }
        let Some(peer) = shared.wait_ready().await else {
            return;
        };
        relay.answered(&request_id);
        let params = serde_json::json!({"request_id": request_id, "behavior": behavior});
        let note = CustomNotification::new(permission::ANSWER_METHOD, Some(params));
        if let Err(e) = peer
            .send_notification(ServerNotification::CustomNotification(note))
            .await
        {
            tracing::warn!("cannot send a verdict to Claude: {e}");
            return;
        }
        tracing::info!(%request_id, ?behavior, "sent the human's verdict to Claude");
    }
}

/// Read Claude's debug log while a relayed request is open, and tell the
/// daemon which dialogs closed without abg's answer.
async fn settle_loop(shared: Arc<Shared>) {
    let Some(relay) = shared.relay.clone() else {
        return;
    };
    let mut unsent: Vec<(String, crate::claude::protocol::Settled)> = Vec::new();
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if relay.watching() {
            unsent.extend(relay.poll());
        }
        if unsent.is_empty() {
            continue;
        }
        let Ok(link) = shared.link() else { continue };
        let mut left = Vec::new();
        for (request_id, outcome) in unsent.drain(..) {
            let req = ClaudeRequest::PermissionSettled {
                session: relay.session().to_string(),
                request_id: request_id.clone(),
                outcome,
            };
            if link.claude(req, Duration::from_secs(5)).await.is_err() {
                left.push((request_id, outcome));
            }
        }
        unsent = left;
    }
}
