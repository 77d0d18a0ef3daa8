//! The daemon's Codex link: keeps the app-server running, stays connected
//! to it as a second client beside the human's TUI, follows the TUI's
//! thread (`follow`), ingests what Codex says and delivers what Claude sends.
//!
//! Why it exists: this is the one task that owns the Codex side of a pair.
//! It reconnects after any drop (app-server crash, restart, mode change),
//! re-reads the thread and turn state from the server each time, and
//! resumes the store's queue, so a fault loses and duplicates nothing.
//! Codex → Claude: every completed `agentMessage` item of a subscribed
//! thread becomes one stored message to Claude (keyed by the item id);
//! commands and file changes become pair events. Approval requests go to
//! the approvals inbox (`approvals`) and are answered only on a person's
//! verdict.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use thiserror::Error;
use tokio::sync::{mpsc, watch};

use super::appserver;
use super::protocol::methods::{
    AccountRateLimitsRead, AccountRateLimitsUpdated, Initialize, Initialized, ServerNotification,
};
use super::protocol::{InitializeParams, Notification};
use super::session::{self, Session, THREAD_SETTING, TurnState};
use super::transport::{Connection, Inbound, TransportError};
use crate::budget::sense::ReadFailure;
use crate::daemon::core::{Core, CoreError};
use crate::store::StoreError;
use crate::store::types::{DeliveryReason, DeliveryState, Note};

const TICK: Duration = Duration::from_millis(500);
const DEFAULT_STALL: Duration = Duration::from_secs(300);
/// How long after subscribing to a thread Codex's replay of its open
/// approval requests has surely arrived (it follows the `thread/resume`
/// reply at once; tests/reference/approvals.md §1.6).
pub(super) const REPLAY_GRACE: Duration = Duration::from_secs(2);
/// JSON-RPC code of `account/rateLimits/read` under API-key auth (no limits).
const RATE_LIMITS_AUTH_REQUIRED: i64 = -32600;

/// Why a connection ended.
#[derive(Debug, Error)]
pub enum LinkError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the Codex app-server restarted")]
    Restarted,
}

/// One connection's state.
pub struct Link {
    pub(super) core: Arc<Core>,
    pub(super) conn: Connection,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    pub(super) session: Session,
    /// Messages that became (or were steered into) each running turn.
    pub(super) turn_messages: HashMap<String, Vec<String>>,
    /// Turns started by an abg notice: their replies are not relayed.
    pub(super) notice_turns: HashSet<String>,
    /// Messages whose steer was refused: they wait like queued ones.
    pub(super) steer_refused: HashSet<String>,
    /// Do not retry a refused `turn/start` before this.
    pub(super) retry_after: Option<Instant>,
    /// The thread last announced as the one to follow (a thread without a
    /// rollout yet is retried every tick: announced once, not every tick).
    pub(super) announced: Option<String>,
    /// Whether the head of the queue was checked against the thread since
    /// this connection opened: the crash marker is written after
    /// `turn/start` goes out, so a daemon that died in between left its
    /// message looking unsent (see `delivery`).
    pub(super) head_checked: bool,
    /// When to close inbox entries Codex did not replay on this
    /// connection (set on each subscription).
    pub(super) reconcile_at: Option<(Instant, String)>,
    /// Where the inbox's verdicts are sent (see `approvals`).
    answers: Arc<super::approvals::Answers>,
}

/// How long a running turn may stay silent before thread discovery, paused
/// while it runs, resumes anyway.
const QUIET_TURN: Duration = Duration::from_secs(10);

/// The daemon's Codex task; returns on shutdown.
pub async fn run(core: Arc<Core>, answers: Arc<super::approvals::Answers>) {
    let pair = core.pair().clone();
    let mut stop = core.shutdown_signal();
    // The app-server starts once the pair is used from the Codex side.
    while !appserver::mode_file(&pair).exists()
        && core
            .with_store(|s| s.get_setting::<String>(THREAD_SETTING))
            .ok()
            .flatten()
            .is_none()
    {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = stop.changed() => return,
        }
    }
    let (ready_tx, mut ready_rx) = watch::channel(0u64);
    let supervisor = tokio::spawn(appserver::supervise(Arc::clone(&core), ready_tx));
    loop {
        if *stop.borrow() {
            break;
        }
        if *ready_rx.borrow_and_update() == 0 {
            tokio::select! {
                r = ready_rx.changed() => if r.is_err() { break } else { continue },
                _ = stop.changed() => break,
            }
        }
        // On shutdown the connection is dropped wherever it is (a request
        // may wait on Codex for seconds); the supervisor stops the server.
        let mut stopping = core.shutdown_signal();
        let served = tokio::select! {
            served = serve(&core, &answers, &mut ready_rx, &mut stop) => served,
            _ = stopping.wait_for(|s| *s) => Ok(()),
        };
        answers.connected(None);
        core.publish_view(crate::codex::PEER, None);
        match served {
            Ok(()) => break,
            Err(e) => {
                tracing::warn!("codex link: {e}; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.changed() => break,
                }
            }
        }
    }
    let _ = supervisor.await;
}

async fn serve(
    core: &Arc<Core>,
    answers: &Arc<super::approvals::Answers>,
    ready_rx: &mut watch::Receiver<u64>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), LinkError> {
    let pair = core.pair();
    let token = appserver::read_token(pair).map_err(|e| CoreError::Invalid(e.to_string()))?;
    let url = format!("ws://127.0.0.1:{}", pair.ports.app);
    let (conn, inbound) = Connection::connect(&url, &token).await?;
    let init = conn
        .request::<Initialize>(InitializeParams::abg(), session::RPC_TIMEOUT)
        .await?;
    conn.notify::<Initialized>()?;
    tracing::info!(user_agent = %init.user_agent, "connected to the codex app-server");
    if !init.user_agent.contains("/0.169.") {
        tracing::warn!(user_agent = %init.user_agent, "untested Codex version (abg was verified on 0.169.0)");
    }
    let mut link = Link {
        core: Arc::clone(core),
        conn,
        inbound,
        session: Session::new(),
        turn_messages: HashMap::new(),
        notice_turns: HashSet::new(),
        steer_refused: HashSet::new(),
        retry_after: None,
        announced: None,
        head_checked: false,
        reconcile_at: None,
        answers: Arc::clone(answers),
    };
    answers.connected(Some(link.conn.responder()));
    // Quota relay (issue 7): read the rate limits once per connection.
    let limits = link
        .conn
        .request::<AccountRateLimitsRead>((), session::RPC_TIMEOUT)
        .await
        .map_err(|e| match e.rpc() {
            Some(rpc) if rpc.code == RATE_LIMITS_AUTH_REQUIRED => {
                ReadFailure::Unavailable(rpc.message.clone())
            }
            _ => ReadFailure::Failed(e.to_string()),
        });
    crate::budget::sense::codex_read(core, limits);
    link.restore().await?;
    link.discover().await?;
    link.pump().await?;
    let stall = match core.config().settings.codex_turn_stall() {
        d if d.is_zero() => DEFAULT_STALL,
        d => d,
    };
    let mut tick = tokio::time::interval(TICK);
    let wake = core.bus().notify(crate::codex::PEER);
    // Discovery runs on a task of its own, so notifications already here
    // are handled while Codex answers it.
    let (found_tx, mut found_rx) = mpsc::channel(1);
    let mut discovering = false;
    loop {
        let mut inbound = false;
        tokio::select! {
            msg = link.inbound.recv() => {
                link.inbound_one(msg)?;
                // Drain whatever else arrived before acting.
                while let Ok(msg) = link.inbound.try_recv() {
                    link.inbound_one(Some(msg))?;
                }
                inbound = true;
            }
            _ = async {
                match wake {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            } => {}
            found = found_rx.recv() => {
                discovering = false;
                if let Some(found) = found {
                    link.follow(found?).await?;
                }
            }
            _ = tick.tick() => {
                if let Some((at, thread)) = link.reconcile_at.take() {
                    if at <= Instant::now() {
                        super::approvals::reconcile(core, answers, &thread);
                    } else {
                        link.reconcile_at = Some((at, thread));
                    }
                }
                // Not while a turn runs on the followed thread (the human is
                // on it): Codex answers `thread/loaded/list` late then, and
                // holds this connection's notifications until it has (the
                // agent's message reached abg tens of ms after a direct
                // client, p99 of the real-codex hop). Idle, it answers at once.
                // A turn silent for QUIET_TURN may be one whose end was
                // missed: discovery resumes rather than trust it.
                let turn_running = matches!(
                    link.session.turn,
                    TurnState::Active { last_activity, .. } if last_activity.elapsed() < QUIET_TURN
                );
                if !discovering && !turn_running {
                    discovering = true;
                    let (requester, found_tx) = (link.conn.requester(), found_tx.clone());
                    let current = link.session.thread_id().map(str::to_owned);
                    tokio::spawn(async move {
                        let found = session::loaded_threads(&requester, current.as_deref()).await;
                        let _ = found_tx.send(found).await;
                    });
                }
                if link.session.check_stall(stall) {
                    let turn = link.session.turn.active_turn().unwrap_or_default().to_string();
                    tracing::warn!(turn = %turn, "codex turn stalled");
                    core.record_event("codex.turn.stalled", json!({"turn_id": turn, "silent_secs": stall.as_secs()}))?;
                }
            }
            r = ready_rx.changed() => {
                if r.is_err() { return Ok(()) }
                return Err(LinkError::Restarted);
            }
            _ = stop.changed() => return Ok(()),
        }
        // A message stored just now woke the Claude link on this worker:
        // let it push before this task goes on with its own bookkeeping.
        // (Woken for a message to deliver, there is nothing to let go first:
        // the queue is this task's to serve at once.)
        if inbound {
            tokio::task::yield_now().await;
        }
        if link.retry_after.is_some_and(|t| Instant::now() < t) {
            continue;
        }
        link.retry_after = None;
        link.pump().await?;
        core.publish_view(
            crate::codex::PEER,
            serde_json::to_value(link.session.turn.view(link.session.thread_id())).ok(),
        );
    }
}

impl Link {
    fn inbound_one(&mut self, msg: Option<Inbound>) -> Result<(), LinkError> {
        match msg {
            Some(Inbound::Notification { method, params }) => self.handle(&method, params),
            Some(Inbound::ServerRequest { id, method, params }) => {
                super::approvals::on_request(&self.core, &self.answers, &id, &method, &params);
                Ok(())
            }
            Some(Inbound::Closed { reason }) => {
                tracing::warn!("codex app-server connection closed: {reason}");
                Err(TransportError::Closed.into())
            }
            None => Err(TransportError::Closed.into()),
        }
    }

    /// Process notifications until `turn_id` is no longer running.
    pub(super) async fn wait_turn_end(
        &mut self,
        turn_id: &str,
        within: Duration,
    ) -> Result<bool, LinkError> {
        let end = Instant::now() + within;
        loop {
            if self.session.turn.active_turn() != Some(turn_id) {
                return Ok(true);
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                // The notification may have been missed: ask the server.
                self.resync().await?;
                return Ok(self.session.turn.active_turn() != Some(turn_id));
            }
            match tokio::time::timeout(left, self.inbound.recv()).await {
                Ok(msg) => self.inbound_one(msg)?,
                Err(_) => continue,
            }
        }
    }

    /// Re-read the current thread's turn state from the server, and settle
    /// deliveries whose turn ended while nobody was listening.
    pub(super) async fn resync(&mut self) -> Result<(), LinkError> {
        let Some(id) = self.session.thread_id().map(str::to_owned) else {
            return Ok(());
        };
        let thread = session::read(&self.conn, &id, true).await?;
        self.session.turn = session::turn_state_of(&thread);
        self.catch_up(&thread)?;
        let active = self.session.turn.active_turn().map(str::to_owned);
        let pending = self
            .core
            .with_store(|s| s.pending_for(crate::codex::PEER, 1000))?;
        for p in pending {
            if p.delivery.state != DeliveryState::Started {
                continue;
            }
            let turn = p.delivery.turn_id.clone().unwrap_or_default();
            if active.as_deref() == Some(turn.as_str()) {
                let list = self.turn_messages.entry(turn).or_default();
                if !list.contains(&p.message.id) {
                    list.push(p.message.id.clone());
                }
            } else {
                self.core.transition(
                    &p.message.id,
                    crate::codex::PEER,
                    DeliveryState::Completed,
                    Note::new(
                        DeliveryReason::TurnEndedUnobserved,
                        "turn ended while abg was not listening",
                    ),
                    None,
                )?;
            }
        }
        Ok(())
    }

    fn handle(&mut self, method: &str, params: Value) -> Result<(), LinkError> {
        // Quota relay (issue 7): sparse rate-limit updates.
        if method == AccountRateLimitsUpdated::METHOD {
            crate::budget::sense::codex_updated(&self.core, &params);
        }
        if method == super::approvals::RESOLVED {
            super::approvals::on_resolved(&self.core, &self.answers, &params);
        }
        if method == "item/started" {
            self.answers.item_started(&params);
        }
        let n = Notification::parse(method, params);
        if n.thread_id().is_some_and(|t| self.session.is_current(t)) {
            self.session.touch();
        }
        match n {
            Notification::TurnStarted { thread_id, turn }
                if self.session.is_current(&thread_id) =>
            {
                self.session.turn = TurnState::active(turn.id.clone());
                self.core.record_event(
                    "codex.turn.started",
                    json!({"thread_id": thread_id, "turn_id": turn.id}),
                )?;
            }
            Notification::TurnCompleted { thread_id, turn } => {
                if self.session.is_current(&thread_id) {
                    let active = self.session.turn.active_turn();
                    if active.is_none() || active == Some(turn.id.as_str()) {
                        self.session.turn = TurnState::Idle;
                    }
                }
                let status = format!("{:?}", turn.status).to_lowercase();
                for id in self.turn_messages.remove(&turn.id).unwrap_or_default() {
                    self.core.transition(
                        &id,
                        crate::codex::PEER,
                        DeliveryState::Completed,
                        Note::new(DeliveryReason::TurnEnded, &format!("turn {status}")),
                        None,
                    )?;
                }
                self.notice_turns.remove(&turn.id);
                self.core.record_event(
                    "codex.turn.completed",
                    json!({"thread_id": thread_id, "turn_id": turn.id, "status": status}),
                )?;
            }
            Notification::ItemCompleted {
                thread_id,
                turn_id,
                item,
            } if self.session.subscribed.contains(&thread_id) => {
                self.ingest(&thread_id, &turn_id, item)?;
            }
            Notification::ThreadStatusChanged { thread_id, status }
                if self.session.is_current(&thread_id)
                    && self.session.turn == TurnState::Unknown =>
            {
                if status == super::protocol::ThreadStatus::Idle {
                    self.session.turn = TurnState::Idle;
                }
            }
            Notification::ThreadClosed { thread_id } => {
                self.session.subscribed.remove(&thread_id);
                if self.session.is_current(&thread_id) {
                    self.session.thread = None;
                    self.session.turn = TurnState::Unknown;
                }
            }
            Notification::Error {
                thread_id,
                turn_id,
                will_retry,
                message,
            } if !will_retry => {
                self.core.record_event(
                    "codex.error",
                    json!({"thread_id": thread_id, "turn_id": turn_id, "message": message}),
                )?;
            }
            other => tracing::trace!(?other, "codex notification"),
        }
        Ok(())
    }
}
