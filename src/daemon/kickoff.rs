//! The kickoff: the first time two peers of a pair are attached together,
//! each attached peer gets exactly one short notice introducing the others
//! (its adapter's text). A store tombstone marks that first kickoff, and
//! each notice's idempotency key (`kickoff-<peer>`) makes it once per pair
//! and peer — never again on reconnects or daemon restarts.
//!
//! A peer introduced after that first kickoff (a third agent that attached
//! later) is a latecomer (tombstone `kickoff.late.<peer>`): besides its own
//! notice, every other agent attached with it is told once that it joined
//! and how to address it (key `joined-<peer>-<other>`), including agents
//! that attach after it. A pair whose agents all attached together (every
//! pair of two) gets nothing beyond the first kickoff. Notices are never
//! relayed. What is known done is remembered in memory too, so the many
//! short attachments of a session (hooks) cost no store writes.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::core::{Component, Core, CoreError, CoreEvent};
use crate::store::types::{MessageKind, NewMessage, PeerId};

/// Tombstone key marking the kickoff as done for this pair.
pub const TOMBSTONE: &str = "kickoff";

/// The kickoff component, with each peer's notice.
pub struct Kickoff {
    notices: Vec<(PeerId, &'static str)>,
    /// Notice keys known stored (by this process or before it).
    sent: Mutex<HashSet<String>>,
    /// Whether each peer is a latecomer, once looked up.
    late: Mutex<HashMap<PeerId, bool>>,
    /// Held through one attachment's kickoff: two attachments at once
    /// must not both take themselves for the first.
    gate: Mutex<()>,
}

fn late_key(peer: PeerId) -> String {
    format!("{TOMBSTONE}.late.{}", peer.as_str())
}

fn notice(to: PeerId, key: String, text: String) -> NewMessage {
    NewMessage {
        kind: MessageKind::Notice,
        idempotency_key: Some(key),
        ..NewMessage::new(PeerId::ABG, to, text)
    }
}

impl Kickoff {
    /// A kickoff sending `notices` (peer, its text).
    pub fn new(notices: Vec<(PeerId, &'static str)>) -> Self {
        Self {
            notices,
            sent: Mutex::default(),
            late: Mutex::default(),
            gate: Mutex::default(),
        }
    }

    /// Store `new` unless its key is known stored; whether it is new.
    fn once(&self, core: &Core, new: &NewMessage) -> Result<bool, CoreError> {
        let key = new.idempotency_key.clone().unwrap_or_default();
        if self.sent.lock().is_ok_and(|s| s.contains(&key)) {
            return Ok(false);
        }
        let (_, fresh) = core.insert(new)?;
        if let Ok(mut s) = self.sent.lock() {
            s.insert(key);
        }
        Ok(fresh)
    }

    fn is_late(&self, core: &Core, peer: PeerId) -> Result<bool, CoreError> {
        if let Some(known) = self.late.lock().ok().and_then(|l| l.get(&peer).copied()) {
            return Ok(known);
        }
        let late = core
            .with_store(|s| s.tombstone_get(&late_key(peer)))?
            .is_some();
        if let Ok(mut l) = self.late.lock() {
            l.insert(peer, late);
        }
        Ok(late)
    }

    fn on_attach(&self, core: &Core, attached: &[PeerId]) -> Result<(), CoreError> {
        if attached.len() < 2 {
            return Ok(());
        }
        let _one_at_a_time = self.gate.lock().unwrap_or_else(|p| p.into_inner());
        let pending: Vec<_> = self
            .notices
            .iter()
            .filter(|(p, _)| attached.contains(p))
            .map(|(p, text)| (*p, *text, format!("kickoff-{}", p.as_str())))
            .filter(|(_, _, key)| self.sent.lock().is_ok_and(|s| !s.contains(key)))
            .collect();
        let mut to = Vec::new();
        if !pending.is_empty() {
            let first = core.with_store(|s| {
                s.tombstone_insert(
                    TOMBSTONE,
                    serde_json::json!({ "at_ms": crate::clock::now_ms() }),
                )
            })?;
            for (peer, text, key) in pending {
                if !self.once(core, &notice(peer, key, text.to_string()))? {
                    continue;
                }
                to.push(peer.as_str());
                if !first {
                    core.with_store(|s| {
                        s.tombstone_insert(
                            &late_key(peer),
                            serde_json::json!({ "at_ms": crate::clock::now_ms() }),
                        )
                    })?;
                    if let Ok(mut l) = self.late.lock() {
                        l.insert(peer, true);
                    }
                }
            }
        }
        if !to.is_empty() {
            core.record_event("kickoff", serde_json::json!({ "to": to }))?;
        }
        self.introduce_latecomers(core, attached)
    }

    /// Tell every attached agent, once, of each attached latecomer.
    fn introduce_latecomers(&self, core: &Core, attached: &[PeerId]) -> Result<(), CoreError> {
        for late in attached {
            let Some(info) = core.peer(*late) else {
                continue;
            };
            if !self.is_late(core, *late)? {
                continue;
            }
            let id = late.as_str();
            let text = format!(
                "{} ({id}) has joined this pair through abg. To write to it, pass to=\"{id}\" to abg's reply tool if you have one, or else begin your answer with the line @{id}; @all (or to=\"all\") reaches every other agent. Answers to its messages go back to it.",
                info.name
            );
            for other in attached.iter().filter(|o| *o != late && o.is_agent()) {
                let key = format!("joined-{id}-{}", other.as_str());
                if self.once(core, &notice(*other, key, text.clone()))? {
                    core.record_event(
                        "kickoff.joined",
                        serde_json::json!({ "peer": id, "to": other.as_str() }),
                    )?;
                }
            }
        }
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
