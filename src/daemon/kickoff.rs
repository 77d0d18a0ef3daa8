//! The kickoff: the first time two peers of a pair are attached together,
//! each attached peer gets exactly one short notice introducing the others
//! (its adapter's text). A store tombstone makes it once per pair — never
//! again on reconnects or daemon restarts. Notices are never relayed.

use super::core::{Component, Core, CoreError, CoreEvent};
use crate::store::types::{MessageKind, NewMessage, PeerId};

/// Tombstone key marking the kickoff as done for this pair.
pub const TOMBSTONE: &str = "kickoff";

/// The kickoff component, with each peer's notice.
pub struct Kickoff {
    notices: Vec<(PeerId, &'static str)>,
}

impl Kickoff {
    /// A kickoff sending `notices` (peer, its text).
    pub fn new(notices: Vec<(PeerId, &'static str)>) -> Self {
        Self { notices }
    }

    fn on_attach(&self, core: &Core, attached: &[PeerId]) -> Result<(), CoreError> {
        if attached.len() < 2 {
            return Ok(());
        }
        let first = core.with_store(|s| {
            s.tombstone_insert(
                TOMBSTONE,
                serde_json::json!({ "at_ms": crate::clock::now_ms() }),
            )
        })?;
        if !first {
            return Ok(());
        }
        let mut to = Vec::new();
        for (peer, text) in self.notices.iter().filter(|(p, _)| attached.contains(p)) {
            core.insert(&NewMessage {
                kind: MessageKind::Notice,
                idempotency_key: Some(format!("kickoff-{}", peer.as_str())),
                ..NewMessage::new(PeerId::ABG, *peer, *text)
            })?;
            to.push(peer.as_str());
        }
        core.record_event("kickoff", serde_json::json!({ "to": to }))?;
        Ok(())
    }
}

impl Component for Kickoff {
    fn name(&self) -> &'static str {
        "kickoff"
    }

    fn on_event(&self, core: &Core, event: &CoreEvent<'_>) -> Result<(), CoreError> {
        match event {
            CoreEvent::Attached { attached, .. } => self.on_attach(core, attached),
            CoreEvent::Stored { .. } => Ok(()),
        }
    }
}
