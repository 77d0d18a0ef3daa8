//! In-process notifications between the daemon's parts. The store stays the
//! source of truth; the bus only says "look again": a wake-up per peer
//! for its delivery worker, and a broadcast of live changes for everything
//! that streams (web UI, `abg log -f`, waiting senders).

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::{Notify, broadcast};

use crate::store::types::{Approval, Delivery, Event, Message, PeerId};

/// A change worth streaming.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A message was stored.
    Message { message: Message },
    /// A delivery changed state.
    Delivery { delivery: Delivery },
    /// A pair event was recorded.
    Event { event: Event },
    /// An approval request was recorded or answered.
    Approval { approval: Approval },
}

/// Wake-ups and the live broadcast. Events travel as `Arc`s: the channel
/// allocates all its slots up front, and a slot of a pointer instead of a
/// whole event keeps an idle daemon about 1 MiB smaller.
pub struct Bus {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    /// One wake-up per registered peer (a handful: a scan beats a map).
    wakes: Vec<(PeerId, Notify)>,
}

impl Bus {
    /// A bus with a wake-up for each of `peers`.
    pub fn new(peers: &[PeerId]) -> Self {
        let (tx, _) = broadcast::channel(4096);
        Self {
            tx,
            wakes: peers.iter().map(|p| (*p, Notify::new())).collect(),
        }
    }

    /// Send a live change to every subscriber (none is fine).
    pub fn publish(&self, event: LiveEvent) {
        let _ = self.tx.send(Arc::new(event));
    }

    /// Receive live changes from now on. A lagging receiver is told how
    /// many it missed and must catch up from the store.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }

    /// Wake `agent`'s delivery worker (a no-op for anyone not registered).
    pub fn wake(&self, agent: PeerId) {
        if let Some(n) = self.notify(agent) {
            n.notify_one();
        }
    }

    /// The wake-up of `agent`'s delivery worker.
    pub fn notify(&self, agent: PeerId) -> Option<&Notify> {
        self.wakes.iter().find(|(a, _)| *a == agent).map(|(_, n)| n)
    }
}
