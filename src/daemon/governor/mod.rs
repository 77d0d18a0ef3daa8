//! The loop governor as a daemon component: once the core has stored a
//! message and [`judge`] judged it (see `judge`), it streams the delivery
//! change, records a pause (and tells every peer) or a damped message, and
//! releases held messages when a human message, typed input or `abg
//! resume-relay` resumes the relay.

pub mod judge;

use crate::daemon::bus::LiveEvent;
use crate::daemon::core::{Component, Core, CoreEvent};
use crate::daemon::error::CoreError;
use crate::store::types::{DeliveryReason, Message, MessageKind, NewMessage, Note, PeerId};

pub use judge::{GovernorState, HELD_PREFIX, Judged, SETTING_KEY, Verdict};

/// The governor, registered with the core at start.
pub struct Governor;

impl Component for Governor {
    fn name(&self) -> &'static str {
        "governor"
    }

    fn on_event(&self, core: &Core, event: &CoreEvent<'_>) -> Result<(), CoreError> {
        match event {
            CoreEvent::Stored { message, judged } => follow_up(core, message, judged),
            _ => Ok(()),
        }
    }
}

/// The rest of a [`judge::judge_stored`] verdict, outside the store lock:
/// stream the delivery change, record a pause (and tell every peer) or a
/// damped message, release held messages when a human message resumes the
/// relay.
fn follow_up(core: &Core, message: &Message, judged: &Judged) -> Result<(), CoreError> {
    if let Some(t) = judged.changed.as_ref().filter(|t| t.changed) {
        core.bus().publish(LiveEvent::Delivery {
            delivery: t.delivery.clone(),
        });
    }
    match &judged.verdict {
        Verdict::Relay | Verdict::Hold { .. } => Ok(()),
        Verdict::Resume => release(core, "human message"),
        Verdict::Pause { reason } => {
            core.record_event(
                "governor_paused",
                serde_json::json!({ "reason": reason, "limit": judged.limit, "message_id": message.id }),
            )?;
            let text = format!(
                "abg paused the automatic relay between {}: {reason}. Messages you send meanwhile are kept and delivered when the relay resumes.",
                core.peer_names()
            );
            // Peers that take part (an optional peer never used in this
            // pair gets nothing).
            for to in core
                .peers()
                .iter()
                .map(|p| p.id)
                .filter(|id| core.takes_part(*id))
            {
                core.insert(&NewMessage {
                    kind: MessageKind::Notice,
                    ..NewMessage::new(PeerId::ABG, to, text.clone())
                })?;
            }
            Ok(())
        }
        Verdict::Damp { reason } => {
            core.record_event(
                "governor_damped",
                serde_json::json!({ "reason": reason, "message_id": message.id }),
            )?;
            Ok(())
        }
    }
}

/// Resume the relay by hand (`abg resume-relay`). Returns how many held
/// messages were released.
pub fn resume(core: &Core) -> Result<usize, CoreError> {
    core.with_store(|s| -> Result<(), CoreError> {
        let mut state: GovernorState = s.get_setting(SETTING_KEY)?.unwrap_or_default();
        state.paused = None;
        state.exchanges = 0;
        s.set_setting(SETTING_KEY, &state)?;
        Ok(())
    })?;
    let n = held(core)?.len();
    release(core, "abg resume-relay")?;
    Ok(n)
}

/// The human spoke to an agent directly (typed in its TUI, not through
/// abg): reset the count and resume a paused relay, like a human message
/// sent through abg.
pub fn human_input(core: &Core, source: &str) -> Result<(), CoreError> {
    let was_paused = core.with_store(|s| -> Result<bool, CoreError> {
        let mut state: GovernorState = s.get_setting(SETTING_KEY)?.unwrap_or_default();
        if state.exchanges == 0 && state.paused.is_none() {
            return Ok(false);
        }
        let was_paused = state.paused.is_some();
        state = GovernorState::default();
        s.set_setting(SETTING_KEY, &state)?;
        Ok(was_paused)
    })?;
    if was_paused {
        release(core, source)?;
    }
    Ok(())
}

fn held(core: &Core) -> Result<Vec<(String, PeerId)>, CoreError> {
    let mut out = Vec::new();
    for agent in core.peers().iter().map(|p| p.id) {
        for p in core.with_store(|s| s.pending_for(agent, 10_000))? {
            if p.delivery.hold() == Some(DeliveryReason::GovernorHold) {
                out.push((p.message.id, agent));
            }
        }
    }
    Ok(out)
}

fn release(core: &Core, why: &str) -> Result<(), CoreError> {
    let held = held(core)?;
    for (id, agent) in &held {
        let note = Note::new(DeliveryReason::GovernorResumed, "governor: relay resumed");
        core.transition(id, *agent, core.initial_state(*agent), note, None)?;
    }
    core.record_event(
        "governor_resumed",
        serde_json::json!({ "by": why, "released": held.len() }),
    )?;
    for peer in core.peers() {
        core.bus().wake(peer.id);
    }
    Ok(())
}
