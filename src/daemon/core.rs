//! The daemon's core, which knows no agent: the pair, the store (the daemon
//! is its only writer), the bus, who is attached, what each peer publishes
//! about itself, the registered components and the shutdown signal. Peers
//! and components reach the store only through the port here (insert,
//! transition, record an event, pending for a peer, wake); the control
//! server and the web UI call the same port. It holds no transport code.
//!
//! Components (the loop governor, the kickoff, the quota relay) register
//! through one trait, [`Component`], at start, and are told what happened
//! ([`CoreEvent`]) synchronously and in order, so the core never imports
//! them. Who is attached, and which optional peers take part at all, is
//! counted in `attach`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::bus::{Bus, LiveEvent};
use super::governor::judge::Judged;
use crate::clock::now_ms;
use crate::config::Config;
use crate::control::protocol::Phase;
use crate::pair::Pair;
use crate::store::Store;
use crate::store::types::{
    DeliveryModel, DeliveryState, Event, Message, MessageKind, NewMessage, Note, PeerId,
    Transitioned,
};

mod attach;

pub use super::error::CoreError;
pub use attach::AttachGuard;
use attach::Attachments;

/// What the core knows of a registered peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerInfo {
    pub id: PeerId,
    /// The name people read ("Claude").
    pub name: &'static str,
    /// How it takes messages (which delivery state machine).
    pub model: DeliveryModel,
    /// A peer a pair may never use (a third agent): it takes part only
    /// once it attached or exchanged messages (see [`Core::takes_part`]).
    pub optional: bool,
}

impl PeerInfo {
    /// Whether a sender may say how a message meets its running turn
    /// (`on_busy`: queue, steer, interrupt): peers that run turns.
    pub fn takes_on_busy(&self) -> bool {
        self.model == DeliveryModel::Turn
    }
}

/// Something that happened in the core, told to every component.
#[derive(Debug)]
pub enum CoreEvent<'a> {
    /// A new message was stored and judged by the loop governor (its hold
    /// or damping is already durable with it).
    Stored {
        message: &'a Message,
        judged: &'a Judged,
    },
    /// A peer attached; `attached` lists every peer attached now.
    Attached {
        peer: PeerId,
        attached: &'a [PeerId],
    },
}

/// A part of the daemon registered at start (the atuin pattern): it may
/// start tasks of its own and is told of core events, in order.
pub trait Component: Send + Sync + 'static {
    /// Its name, for logs.
    fn name(&self) -> &'static str;

    /// Start the component's own tasks (none by default).
    fn start(self: Arc<Self>, _core: Arc<Core>) -> Option<JoinHandle<()>> {
        None
    }

    /// React to `event`; an error is logged, never propagated to the
    /// caller whose action caused the event (that action is durable).
    fn on_event(&self, _core: &Core, _event: &CoreEvent<'_>) -> Result<(), CoreError> {
        Ok(())
    }
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
    peers: Vec<PeerInfo>,
    components: Vec<Arc<dyn Component>>,
    /// What each peer last published about itself (`abg status`, the UI).
    views: Mutex<BTreeMap<PeerId, serde_json::Value>>,
    /// Optional peers known to take part (see [`Core::takes_part`]): read
    /// from the store once at boot, then kept up to date by attaching and
    /// by inserts, so asking never scans the messages.
    took_part: Mutex<BTreeSet<PeerId>>,
}

impl Core {
    /// A core over `store` for the registered `peers`, telling
    /// `components` of its events.
    pub fn new(
        pair: Pair,
        config: Config,
        store: Store,
        peers: Vec<PeerInfo>,
        components: Vec<Arc<dyn Component>>,
    ) -> Arc<Self> {
        let (shutdown_tx, _) = watch::channel(false);
        let ids: Vec<PeerId> = peers.iter().map(|p| p.id).collect();
        // A store that cannot be read here counts the peer in: better an
        // extra notice than a peer silently left out.
        let took_part = peers
            .iter()
            .filter(|p| p.optional && store.has_conversed(p.id).unwrap_or(true))
            .map(|p| p.id)
            .collect();
        Arc::new(Self {
            pair,
            config,
            started_ms: now_ms(),
            phase: Mutex::new(Phase::Booting),
            store: Mutex::new(store),
            inserts: super::group_commit::Queue::default(),
            attached: Mutex::new(Attachments {
                count: ids.iter().map(|id| (*id, 0)).collect(),
                idle_since: Instant::now(),
            }),
            shutdown_tx,
            bus: Bus::new(&ids),
            peers,
            components,
            views: Mutex::new(BTreeMap::new()),
            took_part: Mutex::new(took_part),
        })
    }

    pub fn pair(&self) -> &Pair {
        &self.pair
    }

    pub fn pair_id(&self) -> &str {
        &self.pair.id
    }

    /// The registered peers, in order.
    pub fn peers(&self) -> &[PeerInfo] {
        &self.peers
    }

    /// The registered peer `id`, if it is one.
    pub fn peer(&self, id: PeerId) -> Option<&PeerInfo> {
        self.peers.iter().find(|p| p.id == id)
    }

    /// The names of the agents taking part, for a sentence: "Claude and
    /// Codex", "A, B and C".
    pub fn peer_names(&self) -> String {
        let names: Vec<&str> = self
            .peers
            .iter()
            .filter(|p| self.takes_part(p.id))
            .map(|p| p.name)
            .collect();
        match names.split_last() {
            None => String::new(),
            Some((last, [])) => (*last).to_string(),
            Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        }
    }

    /// The registered components, in order.
    pub fn components(&self) -> &[Arc<dyn Component>] {
        &self.components
    }

    /// Tell every component of `event`, in order.
    fn tell(&self, event: &CoreEvent<'_>) {
        for c in &self.components {
            if let Err(e) = c.on_event(self, event) {
                tracing::warn!(component = c.name(), "{e}");
            }
        }
    }

    /// Publish what peer `id` wants shown about itself (`None` clears it).
    pub fn publish_view(&self, id: PeerId, view: Option<serde_json::Value>) {
        if let Ok(mut v) = self.views.lock() {
            match view {
                Some(view) => v.insert(id, view),
                None => v.remove(&id),
            };
        }
    }

    /// What peer `id` last published about itself.
    pub fn view(&self, id: PeerId) -> Option<serde_json::Value> {
        self.views.lock().ok()?.get(&id).cloned()
    }

    /// Wake-ups and live changes.
    pub fn bus(&self) -> &Bus {
        &self.bus
    }

    /// Store a message from inside the daemon (peer output, notices),
    /// then wake its recipient and stream it. Duplicates (same source item
    /// or idempotency key) are returned without a second wake-up.
    pub fn insert(&self, new: &NewMessage) -> Result<(Message, bool), CoreError> {
        let (message, fresh, _) = self.insert_stated(new)?;
        Ok((message, fresh))
    }

    /// [`Core::insert`], also returning for a new message the delivery
    /// state it was stored in (its initial state, or the governor's hold).
    pub(crate) fn insert_stated(
        &self,
        new: &NewMessage,
    ) -> Result<(Message, bool, Option<DeliveryState>), CoreError> {
        if self.peer(new.to).is_none() {
            return Err(CoreError::Invalid(format!(
                "`to` must name a peer of this pair ({}), not {:?}",
                self.peer_ids_text(),
                new.to.as_str()
            )));
        }
        let limit = self.config.settings.governor_limit();
        // The loop governor judges (and holds) a new message in the same
        // critical section that stores it: see `governor::judge`.
        // One transaction (one commit) for the message, the governor's state
        // and a hold: they are durable together before anyone is woken.
        // Inserts arriving together share one commit (see `group_commit`).
        let (inserted, judged) = self
            .inserts
            .submit(new, limit, |f| self.with_store(|s| f(s)))?;
        let fresh = inserted.is_new();
        let message = inserted.into_message();
        self.note_conversed(&message);
        let mut state = None;
        if let Some(judged) = judged {
            state = judged
                .moved_to()
                .or_else(|| Some(self.initial_state(message.to)));
            self.tell(&CoreEvent::Stored {
                message: &message,
                judged: &judged,
            });
            self.bus.publish(LiveEvent::Message {
                message: message.clone(),
            });
            self.bus.wake(message.to);
        }
        Ok((message, fresh, state))
    }

    /// Keep [`Core::takes_part`] in step with the store's rule
    /// (`Store::has_conversed`): the sender of any message, and the
    /// recipient of one that is not a notice, take part.
    fn note_conversed(&self, message: &Message) {
        if let Ok(mut set) = self.took_part.lock() {
            set.insert(message.from);
            if message.kind != MessageKind::Notice {
                set.insert(message.to);
            }
        }
    }

    /// The state a fresh delivery to `peer` starts in (its model's first;
    /// `stored` for an id that is not registered).
    pub fn initial_state(&self, peer: PeerId) -> DeliveryState {
        self.peer(peer)
            .map(|p| p.model.initial())
            .unwrap_or(DeliveryState::Stored)
    }

    /// The registered peer ids, for error texts: `"claude", "codex"`.
    pub fn peer_ids_text(&self) -> String {
        self.peers
            .iter()
            .map(|p| format!("{:?}", p.id.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Move a delivery to `state` in the store and stream the change.
    pub fn transition<'n>(
        &self,
        message_id: &str,
        recipient: PeerId,
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
        recipient: PeerId,
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

    pub(crate) fn phase(&self) -> Phase {
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
}
