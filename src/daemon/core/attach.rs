//! Which peers are attached to the daemon right now, and which optional
//! peers take part in the pair at all. Why it exists apart from the rest of
//! the core: attachment is counted per peer (a peer may hold several
//! connections), drives the idle shutdown and the `Attached` event the
//! kickoff listens for, and answers `takes_part` on every status poll, so it
//! is one small piece with its own guard type.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::{Core, CoreEvent};
use crate::control::protocol::Role;
use crate::store::types::PeerId;

#[derive(Debug)]
pub(super) struct Attachments {
    pub(super) count: BTreeMap<PeerId, u32>,
    /// When the last agent detached (or the daemon started).
    pub(super) idle_since: Instant,
}

impl Attachments {
    pub(super) fn attached(&self) -> Vec<PeerId> {
        self.count
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(a, _)| *a)
            .collect()
    }
}

/// Keeps a peer counted as attached until dropped.
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
    /// Count `role` as attached until the guard drops (only peers count).
    pub fn attach(self: &Arc<Self>, role: Role) -> AttachGuard {
        let now = self.attached.lock().ok().and_then(|mut a| {
            let peer = role.peer()?;
            *a.count.entry(peer).or_insert(0) += 1;
            if let Ok(mut set) = self.took_part.lock() {
                set.insert(peer);
            }
            Some((peer, a.attached()))
        });
        tracing::info!(?role, "attached");
        if let Some((peer, attached)) = now {
            self.tell(&CoreEvent::Attached {
                peer,
                attached: &attached,
            });
        }
        AttachGuard {
            core: Arc::clone(self),
            role,
        }
    }

    fn detach(&self, role: Role) {
        if let (Ok(mut a), Some(peer)) = (self.attached.lock(), role.peer()) {
            if let Some(n) = a.count.get_mut(&peer) {
                *n = n.saturating_sub(1);
            }
            if a.attached().is_empty() {
                a.idle_since = Instant::now();
            }
        }
        tracing::info!(?role, "detached");
    }

    /// How long no peer has been attached; `None` while one is.
    pub fn idle_for(&self) -> Option<std::time::Duration> {
        let a = self.attached.lock().ok()?;
        a.attached().is_empty().then(|| a.idle_since.elapsed())
    }

    /// Whether agent peer `id` takes part in this pair: a peer every pair
    /// has, or an optional one that attached or exchanged messages. `all`,
    /// `@all` and the governor's notices reach only these, so a pair that
    /// never runs its optional peer behaves as if it had none.
    pub fn takes_part(&self, id: PeerId) -> bool {
        match self.peer(id) {
            Some(p) if p.id.is_agent() => {
                !p.optional || self.took_part.lock().map_or(true, |set| set.contains(&id))
            }
            _ => false,
        }
    }

    /// Whether peer `id` has a live connection.
    pub fn is_attached(&self, id: PeerId) -> bool {
        self.attached
            .lock()
            .ok()
            .and_then(|a| a.count.get(&id).copied())
            .is_some_and(|n| n > 0)
    }
}
