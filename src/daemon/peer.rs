//! The seam between the daemon and the agents: one [`Peer`] trait that each
//! agent adapter (its own folder) implements, and the registry the
//! composition root hands to the daemon at start. The daemon, the control
//! server and the web UI see peers only through this trait and the core's
//! port; none of them names an agent.
//!
//! A peer has an id (messages, deliveries and attachments refer to it), a
//! display name, a kickoff notice, optional tasks of its own (the Codex
//! side keeps its app-server link), requests of its side on the control
//! socket (Claude's hooks and `abg mcp`), optionally a worker that
//! pushes deliveries over an attached connection (the Claude channel), and
//! optionally a way to hand the human's answer to an approval request back
//! to its agent (`deliver_verdict`). Peers that take messages as turns
//! give their agent the same framed prompt ([`prompt_text`]).

use std::sync::Arc;

use futures_util::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::core::{Core, CoreError, PeerInfo};
use crate::control::protocol::ServerFrame;
use crate::control::protocol::approvals::Verdict;
use crate::store::types::{Approval, DeliveryModel, Message, MessageKind, PeerId};

/// What a peer's request handler failed with.
pub type PeerResult = Result<serde_json::Value, CoreError>;

/// One agent adapter, registered at daemon start.
pub trait Peer: Send + Sync + 'static {
    /// The peer's id: messages, deliveries and attachments name it.
    fn id(&self) -> PeerId;

    /// The name people read ("Claude").
    fn name(&self) -> &'static str;

    /// The one-time notice introducing the other peers (see `kickoff`).
    fn kickoff(&self) -> &'static str;

    /// How it takes messages: pushed to a live session that reports back,
    /// or made (or steered) into turns.
    fn model(&self) -> DeliveryModel;

    /// Whether a pair may never use this peer (a third agent, started only
    /// by its own verb): it takes part once it attached or exchanged
    /// messages (`Core::takes_part`).
    fn optional(&self) -> bool {
        false
    }

    /// What the core keeps of this peer.
    fn info(&self) -> PeerInfo {
        PeerInfo {
            id: self.id(),
            name: self.name(),
            model: self.model(),
            optional: self.optional(),
        }
    }

    /// Start the peer's own daemon tasks (the Codex app-server link). The
    /// daemon waits for the returned task on shutdown.
    fn start(self: Arc<Self>, _core: Arc<Core>) -> Option<JoinHandle<()>> {
        None
    }

    /// Answer a request of this peer's side (a `peer` frame naming it).
    /// Handlers may block (hooks read transcripts): the control server
    /// runs them off the async workers.
    fn answer(&self, core: &Core, request: serde_json::Value) -> PeerResult;

    /// Hand the human's answer to approval request `approval` (recorded by
    /// this adapter through [`Core::record_approval`]) to the agent. The
    /// store has already recorded the answer; an error leaves the request
    /// `abandoned` (nothing approved). By default a peer takes no answers
    /// from abg. May block.
    fn deliver_verdict(
        &self,
        _core: &Core,
        _approval: &Approval,
        _verdict: &Verdict,
    ) -> Result<(), CoreError> {
        Err(CoreError::Undelivered(format!(
            "{} takes no answers from abg; answer in its own terminal",
            self.name()
        )))
    }

    /// Serve a connection that said hello as this peer: frames it sends
    /// unasked (deliveries) go to `out`, which the control server writes
    /// to the socket beside its answers. `None`: the peer pushes nothing
    /// over its connections. The future ends when `out` closes or the
    /// daemon stops.
    fn attached(
        self: Arc<Self>,
        _core: Arc<Core>,
        _out: mpsc::Sender<ServerFrame>,
    ) -> Option<BoxFuture<'static, ()>> {
        None
    }
}

/// The peers of a daemon, in registration order.
#[derive(Clone, Default)]
pub struct Peers(Arc<Vec<Arc<dyn Peer>>>);

impl Peers {
    pub fn new(peers: Vec<Arc<dyn Peer>>) -> Self {
        Self(Arc::new(peers))
    }

    /// The peer with id `id`.
    pub fn get(&self, id: PeerId) -> Option<&Arc<dyn Peer>> {
        self.0.iter().find(|p| p.id() == id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Arc<dyn Peer>> {
        self.0.iter()
    }

    /// The registered ids, in order.
    pub fn ids(&self) -> Vec<PeerId> {
        self.0.iter().map(|p| p.id()).collect()
    }
}

/// The text a turn peer's agent is given for message `m` as a prompt,
/// framed so it knows who speaks (`[from Claude] …`, `[from the human, via
/// abg] …`, `[abg notice] …`); `name` is the sender's registered name. One
/// framing for every agent that takes messages as turns.
pub fn prompt_text(m: &Message, name: Option<&str>) -> String {
    if m.kind == MessageKind::Notice {
        return format!("[abg notice] {}", m.body);
    }
    let who = match m.from {
        PeerId::HUMAN => "the human, via abg",
        PeerId::ABG => "abg",
        other => name.unwrap_or(other.as_str()),
    };
    format!("[from {who}] {}", m.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_framed_by_sender() {
        let mut m = Message {
            seq: 1,
            id: "m_1".into(),
            from: PeerId::from_static("claude"),
            to: PeerId::from_static("codex"),
            body: "review src/lib.rs".into(),
            kind: MessageKind::Chat,
            created_ms: 0,
            thread_id: None,
            turn_id: None,
            source_item_id: None,
            in_reply_to: None,
            idempotency_key: None,
            on_busy: None,
            meta: serde_json::Value::Null,
        };
        assert_eq!(
            prompt_text(&m, Some("Claude")),
            "[from Claude] review src/lib.rs"
        );
        m.from = PeerId::HUMAN;
        assert!(prompt_text(&m, None).starts_with("[from the human, via abg] "));
        m.kind = MessageKind::Notice;
        assert!(prompt_text(&m, None).starts_with("[abg notice] "));
    }
}
