//! The daemon's shared state: the pair, the store (the daemon is its only
//! writer), who is attached, and the shutdown signal. The control server
//! and, later, the agent links call into this; it holds no transport code.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use thiserror::Error;
use tokio::sync::{broadcast, watch};

use super::bus::{Bus, LiveEvent};
use super::outcome::outcome_of;
use crate::clock::now_ms;
use crate::config::Config;
use crate::control::protocol::{
    Attached, CodexView, DaemonStatus, MAX_SEND_WAIT_MS, MessagePage, MessageView, Outcome,
    OutcomeCode, PROTOCOL_VERSION, PendingView, Phase, Queues, Role, SendRequest, SendResult,
};
use crate::pair::Pair;
use crate::store::types::{Agent, DeliveryState, Event, Message, NewMessage, Note, Transitioned};
use crate::store::{Store, StoreError};

/// Errors the core reports to callers.
#[derive(Debug, Error)]
pub enum CoreError {
    #[error("{0}")]
    Invalid(String),
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}

#[derive(Debug)]
struct Attachments {
    claude: u32,
    codex: u32,
    /// When the last agent detached (or the daemon started).
    idle_since: Instant,
}

/// Shared daemon state.
pub struct Core {
    pair: Pair,
    config: Config,
    started_ms: i64,
    phase: Mutex<Phase>,
    store: Mutex<Store>,
    /// Inserts waiting for the next (group) commit.
    inserts: super::group_commit::Queue,
    attached: Mutex<Attachments>,
    shutdown_tx: watch::Sender<bool>,
    bus: Bus,
    codex_view: Mutex<Option<CodexView>>,
    /// The Claude side's live state (link sessions, hooks, doorbell).
    claude: crate::claude::link::LinkState,
}

/// Keeps an agent counted as attached until dropped.
pub struct AttachGuard {
    core: Arc<Core>,
    role: Role,
}

impl AttachGuard {
    /// Who this guard counts as attached.
    pub fn role(&self) -> Role {
        self.role
    }
}

impl Drop for AttachGuard {
    fn drop(&mut self) {
        self.core.detach(self.role);
    }
}

impl Core {
    pub fn new(pair: Pair, config: Config, store: Store) -> Arc<Self> {
        let (shutdown_tx, _) = watch::channel(false);
        Arc::new(Self {
            pair,
            config,
            started_ms: now_ms(),
            phase: Mutex::new(Phase::Booting),
            store: Mutex::new(store),
            inserts: super::group_commit::Queue::default(),
            attached: Mutex::new(Attachments {
                claude: 0,
                codex: 0,
                idle_since: Instant::now(),
            }),
            shutdown_tx,
            bus: Bus::new(),
            codex_view: Mutex::new(None),
            claude: crate::claude::link::LinkState::default(),
        })
    }

    pub fn pair(&self) -> &Pair {
        &self.pair
    }

    pub fn pair_id(&self) -> &str {
        &self.pair.id
    }

    /// The Claude side's live state.
    pub fn claude(&self) -> &crate::claude::link::LinkState {
        &self.claude
    }

    /// Publish the Codex link's view of thread and turn (for `abg status`).
    pub fn set_codex_view(&self, view: Option<CodexView>) {
        if let Ok(mut v) = self.codex_view.lock() {
            *v = view;
        }
    }

    /// Undelivered messages with their states, oldest first.
    fn pending_views(&self, limit: usize) -> Vec<PendingView> {
        let now = now_ms();
        let mut all: Vec<PendingView> = [Agent::Claude, Agent::Codex]
            .iter()
            .flat_map(|a| {
                self.with_store(|s| s.pending_for(*a, limit))
                    .unwrap_or_default()
            })
            .map(|p| PendingView {
                id: p.message.id,
                from: p.message.from.as_str().to_string(),
                to: p.delivery.recipient.as_str().to_string(),
                state: p.delivery.state.as_str().to_string(),
                reason: p.delivery.reason.map(|r| r.as_str().to_string()),
                detail: p.delivery.detail,
                age_ms: now - p.message.created_ms,
            })
            .collect();
        all.sort_by_key(|p| std::cmp::Reverse(p.age_ms));
        all.truncate(limit);
        all
    }

    /// Wake-ups and live changes.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Store a message from inside the daemon (Codex output, notices),
    /// then wake its recipient and stream it. Duplicates (same source item
    /// or idempotency key) are returned without a second wake-up.
    pub fn insert(&self, new: &NewMessage) -> Result<(Message, bool), CoreError> {
        let (message, fresh, _) = self.insert_stated(new)?;
        Ok((message, fresh))
    }

    /// [`Core::insert`], also returning for a new message the delivery
    /// state it was stored in (its initial state, or the governor's hold).
    fn insert_stated(
        &self,
        new: &NewMessage,
    ) -> Result<(Message, bool, Option<DeliveryState>), CoreError> {
        let limit = self.config.settings.governor_limit();
        // The loop governor judges (and holds) a new message in the same
        // critical section that stores it: see `governor::judge_stored`.
        // One transaction (one commit) for the message, the governor's state
        // and a hold: they are durable together before anyone is woken.
        // Inserts arriving together share one commit (see `group_commit`).
        let (inserted, judged) = self
            .inserts
            .submit(new, limit, |f| self.with_store(|s| f(s)))?;
        let fresh = inserted.is_new();
        let message = inserted.into_message();
        let mut state = None;
        if let Some(judged) = judged {
            state = judged
                .moved_to()
                .or_else(|| DeliveryState::initial_for(message.to));
            super::governor::follow_up(self, &message, judged)?;
            self.bus.publish(LiveEvent::Message {
                message: message.clone(),
            });
            self.bus.wake(message.to);
        }
        Ok((message, fresh, state))
    }

    /// Move a delivery to `state` in the store and stream the change.
    pub fn transition<'n>(
        &self,
        message_id: &str,
        recipient: Agent,
        state: DeliveryState,
        note: impl Into<Note<'n>>,
        turn_id: Option<&str>,
    ) -> Result<Transitioned, CoreError> {
        let note = note.into();
        let t = self.with_store(|s| s.transition(message_id, recipient, state, note, turn_id))?;
        if t.changed {
            tracing::debug!(
                message_id,
                recipient = recipient.as_str(),
                state = state.as_str(),
                "delivery"
            );
            self.bus.publish(LiveEvent::Delivery {
                delivery: t.delivery.clone(),
            });
        }
        Ok(t)
    }

    /// [`Core::transition`] for many messages at once, in one store
    /// transaction: each of `ids` whose delivery to `recipient` is in a
    /// state `when` accepts moves to `state` (see
    /// [`Store::transition_many`]); every change is streamed, in order.
    pub fn transition_many<'n>(
        &self,
        ids: &[String],
        recipient: Agent,
        state: DeliveryState,
        note: impl Into<Note<'n>>,
        when: impl Fn(DeliveryState) -> bool,
    ) -> Result<Vec<Transitioned>, CoreError> {
        let note = note.into();
        let moved = self.with_store(|s| s.transition_many(ids, recipient, state, note, when))?;
        for t in moved.iter().filter(|t| t.changed) {
            self.bus.publish(LiveEvent::Delivery {
                delivery: t.delivery.clone(),
            });
        }
        if !moved.is_empty() {
            tracing::debug!(
                count = moved.len(),
                recipient = recipient.as_str(),
                state = state.as_str(),
                "deliveries"
            );
        }
        Ok(moved)
    }

    /// Record a pair event and stream it.
    pub fn record_event(&self, kind: &str, data: serde_json::Value) -> Result<Event, CoreError> {
        let event = self.with_store(|s| s.record_event(kind, data))?;
        self.bus.publish(LiveEvent::Event {
            event: event.clone(),
        });
        Ok(event)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn started_ms(&self) -> i64 {
        self.started_ms
    }

    pub fn max_frame_bytes(&self) -> usize {
        self.config.settings.control_max_frame_bytes
    }

    pub fn set_phase(&self, phase: Phase) {
        if let Ok(mut p) = self.phase.lock() {
            *p = phase;
        }
    }

    fn phase(&self) -> Phase {
        self.phase.lock().map(|p| *p).unwrap_or(Phase::Stopping)
    }

    /// Run `f` with the store locked.
    pub fn with_store<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut guard = match self.store.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut guard)
    }

    /// Count `role` as attached until the guard drops.
    pub fn attach(self: &Arc<Self>, role: Role) -> AttachGuard {
        let both = self.attached.lock().map(|mut a| {
            match role {
                Role::Claude => a.claude += 1,
                Role::Codex => a.codex += 1,
                Role::Cli | Role::Ui => {}
            }
            (a.claude > 0, a.codex > 0)
        });
        tracing::info!(?role, "agent attached");
        if role.is_agent()
            && let Ok((claude, codex)) = both
            && let Err(e) = super::kickoff::on_attach(self, claude, codex)
        {
            tracing::warn!("kickoff failed: {e}");
        }
        AttachGuard {
            core: Arc::clone(self),
            role,
        }
    }

    fn detach(&self, role: Role) {
        if let Ok(mut a) = self.attached.lock() {
            match role {
                Role::Claude => a.claude = a.claude.saturating_sub(1),
                Role::Codex => a.codex = a.codex.saturating_sub(1),
                Role::Cli | Role::Ui => {}
            }
            if a.claude == 0 && a.codex == 0 {
                a.idle_since = Instant::now();
            }
        }
        tracing::info!(?role, "agent detached");
    }

    /// How long no agent has been attached; `None` while one is.
    pub fn idle_for(&self) -> Option<std::time::Duration> {
        let a = self.attached.lock().ok()?;
        (a.claude == 0 && a.codex == 0).then(|| a.idle_since.elapsed())
    }

    fn attached_now(&self) -> Attached {
        self.attached
            .lock()
            .map(|a| Attached {
                claude: a.claude > 0,
                codex: a.codex > 0,
            })
            .unwrap_or_default()
    }

    /// Ask every task to stop.
    pub fn request_shutdown(&self, why: &str) {
        tracing::info!(reason = why, "shutdown requested");
        self.set_phase(Phase::Stopping);
        self.shutdown_tx.send_replace(true);
    }

    /// A receiver that changes once shutdown is requested.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Health and identity for `abg status`.
    pub fn status(&self) -> DaemonStatus {
        let stats = self.with_store(|s| s.stats()).unwrap_or_default();
        let pending = |agent: Agent| {
            stats
                .by_recipient
                .get(&agent)
                .map(|r| r.pending)
                .unwrap_or(0)
        };
        let now = now_ms();
        DaemonStatus {
            pair_id: self.pair.id.clone(),
            pair_name: self.pair.name.clone(),
            root: self.pair.root.display().to_string(),
            state_dir: self.pair.dir.display().to_string(),
            pid: std::process::id(),
            version: crate::version().to_string(),
            protocol: PROTOCOL_VERSION,
            phase: self.phase(),
            started_ms: self.started_ms,
            uptime_ms: now - self.started_ms,
            control_port: self.pair.ports.control,
            app_port: self.pair.ports.app,
            attached: self.attached_now(),
            queues: Queues {
                to_claude: pending(Agent::Claude),
                to_codex: pending(Agent::Codex),
            },
            idle_shutdown_minutes: u64::from(self.config.settings.daemon_idle_shutdown_minutes),
            config: serde_json::to_value(self.config.explain()).unwrap_or_default(),
            relay_paused: super::governor::paused(self),
            codex: self.codex_view.lock().ok().and_then(|v| v.clone()),
            pending: self.pending_views(20),
        }
    }

    /// Validate and store a message; it is on disk when this returns.
    pub fn send(&self, req: SendRequest) -> Result<SendResult, CoreError> {
        req.validate(self.max_frame_bytes())
            .map_err(CoreError::Invalid)?;
        let new = NewMessage {
            on_busy: req.on_busy,
            in_reply_to: req.in_reply_to,
            idempotency_key: req.idempotency_key,
            ..NewMessage::new(req.from, req.to, req.body)
        };
        let (message, fresh, state) = self.insert_stated(&new)?;
        let duplicate = !fresh;
        // A duplicate's state is whatever its delivery reached since.
        let state = match state {
            Some(s) => s.as_str().to_string(),
            None => self
                .with_store(|s| s.deliveries_for(&message.id))?
                .into_iter()
                .next()
                .map(|d| d.state.as_str().to_string())
                .unwrap_or_default(),
        };
        tracing::info!(id = %message.id, from = message.from.as_str(), to = message.to.as_str(), duplicate, "message stored");
        Ok(SendResult {
            message_id: message.id,
            seq: message.seq,
            duplicate,
            state,
            outcome: None,
        })
    }

    /// [`Core::send`], then wait up to `wait` (capped at a minute) for the
    /// delivery to settle; `outcome` says how it went (`pending` when the
    /// wait ended first). A zero `wait` returns at once without an outcome.
    pub async fn send_and_wait(
        &self,
        req: SendRequest,
        wait: std::time::Duration,
    ) -> Result<SendResult, CoreError> {
        let mut live = self.bus.subscribe();
        let mut result = self.send(req)?;
        if wait.is_zero() {
            return Ok(result);
        }
        // The store woke the recipient's link on this worker: let it deliver
        // before this task looks at the outcome.
        tokio::task::yield_now().await;
        let end = tokio::time::Instant::now()
            + wait.min(std::time::Duration::from_millis(MAX_SEND_WAIT_MS));
        loop {
            let log = self.with_store(|s| s.delivery_log(&result.message_id))?;
            if let Some(mut outcome) = outcome_of(&log) {
                outcome.turn_id = self.turn_of(&result.message_id);
                result.outcome = Some(outcome);
                return Ok(result);
            }
            // Any change may be ours; a lagged receiver just looks again.
            match tokio::time::timeout_at(end, live.recv()).await {
                Err(_) => break,
                Ok(Err(broadcast::error::RecvError::Closed)) => break,
                Ok(_) => {}
            }
        }
        let log = self.with_store(|s| s.delivery_log(&result.message_id))?;
        let last = log.last();
        let turn_id = self.turn_of(&result.message_id);
        result.outcome = Some(outcome_of(&log).unwrap_or(Outcome {
            code: if last.is_some_and(|e| e.state == DeliveryState::Queued && e.detail.is_some()) {
                OutcomeCode::Queued
            } else {
                OutcomeCode::Pending
            },
            turn_id: None,
            reason: last.and_then(|e| e.detail.clone()),
        }));
        if let Some(o) = result.outcome.as_mut() {
            o.turn_id = turn_id;
        }
        Ok(result)
    }

    /// The Codex turn a message became, if any.
    fn turn_of(&self, message_id: &str) -> Option<String> {
        self.with_store(|s| s.deliveries_for(message_id))
            .ok()?
            .into_iter()
            .find_map(|d| d.turn_id)
    }

    /// Messages after `after` (by seq), oldest first.
    pub fn messages_after(&self, after: i64, limit: u32) -> Result<MessagePage, CoreError> {
        let limit = usize::try_from(limit).unwrap_or(100);
        let rows = self.with_store(|s| s.messages_after(after, limit))?;
        let mut messages = Vec::with_capacity(rows.len());
        for m in rows {
            let state = self
                .with_store(|s| s.deliveries_for(&m.id))?
                .into_iter()
                .next()
                .map(|d| d.state.as_str().to_string());
            messages.push(MessageView {
                seq: m.seq,
                id: m.id,
                from: m.from.as_str().to_string(),
                to: m.to.as_str().to_string(),
                body: m.body,
                created_ms: m.created_ms,
                state,
            });
        }
        Ok(MessagePage { messages })
    }
}
