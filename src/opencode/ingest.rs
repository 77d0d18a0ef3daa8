//! OpenCode → its peers: each final answer in the pair's session becomes
//! one stored message, exactly once.
//!
//! Why it exists: OpenCode's `session.idle` may cover several prompts (a
//! queued prompt runs as its own turn before the one idle), an abort gives
//! two idles, and `message.updated` of a finished answer comes twice. So
//! abg never counts events: on each occasion it reads the session's
//! messages and takes every assistant message that finished with `stop`
//! and has not been ingested ([`answers`]); intermediate `tool-calls` steps
//! are skipped. The assistant message id is the stored message's source
//! key, so a repeat (or a restarted daemon reading the same session) finds
//! the first copy. The answer is attributed through its `parentID` to the
//! user message it answers: one of abg's prompts (its origin message is
//! known) or a turn the human typed in the TUI; the daemon's routing
//! (`daemon::routing::relay`) then decides who receives it.

use std::collections::HashSet;

use serde_json::json;

use super::api::SessionMessage;
use super::delivery::origin_key;
use super::link::{Link, LinkError};
use crate::store::types::{DeliveryReason, DeliveryState, MessageKind, NewMessage, Note};

/// The final answers among `messages` not in `ingested`, oldest first.
pub fn answers<'a>(
    messages: &'a [SessionMessage],
    ingested: &HashSet<String>,
) -> Vec<&'a SessionMessage> {
    messages
        .iter()
        .filter(|m| m.info.is_final_answer() && !ingested.contains(&m.info.id))
        .collect()
}

/// Whether the prompt `prompt` of a `Started` delivery is settled: its
/// user message is in the session and it has a final answer, or the
/// session is idle after it.
pub fn settled(messages: &[SessionMessage], prompt: &str, idle: bool) -> bool {
    let present = messages
        .iter()
        .any(|m| m.info.role == "user" && m.info.id == prompt);
    let answered = messages
        .iter()
        .any(|m| m.info.is_final_answer() && m.info.parent_id.as_deref() == Some(prompt));
    present && (answered || idle)
}

impl Link {
    /// Read the session: ingest new answers, note what the human typed,
    /// and complete the deliveries whose turn ended (`idle`: the session
    /// is idle now).
    pub(super) async fn sync(&mut self, idle: bool) -> Result<(), LinkError> {
        let messages = self.api.messages(&self.sid, 200).await?;
        for a in answers(&messages, &self.ingested) {
            self.ingest(a)?;
        }
        self.note_human(&messages)?;
        let started = self
            .core
            .with_store(|s| s.pending_in_states(super::PEER, &[DeliveryState::Started], 1000))?;
        for p in started {
            let Some(prompt) = p.delivery.turn_id.as_deref() else {
                continue;
            };
            if settled(&messages, prompt, idle) {
                self.core.transition(
                    &p.message.id,
                    super::PEER,
                    DeliveryState::Completed,
                    Note::new(DeliveryReason::TurnEnded, "its turn ended"),
                    None,
                )?;
                if self
                    .in_flight
                    .as_ref()
                    .is_some_and(|f| f.message_id == p.message.id)
                {
                    self.in_flight = None;
                }
            }
        }
        // An in-flight prompt that is in the session, answered, and whose
        // delivery is no longer started (settled above or elsewhere).
        if let Some(f) = &self.in_flight
            && f.seen
            && settled(&messages, &f.prompt_id, idle)
        {
            self.in_flight = None;
        }
        Ok(())
    }

    fn ingest(&mut self, a: &SessionMessage) -> Result<(), LinkError> {
        let id = a.info.id.clone();
        if a.text.trim().is_empty() {
            self.ingested.insert(id);
            return Ok(());
        }
        let parent = a.info.parent_id.clone();
        let origin_id: Option<String> = match &parent {
            Some(p) => self.core.with_store(|s| s.get_setting(&origin_key(p)))?,
            None => None,
        };
        let origin = match &origin_id {
            Some(o) => self.core.with_store(|s| s.get_message(o))?,
            None => None,
        };
        if origin
            .as_ref()
            .is_some_and(|m| m.kind == MessageKind::Notice)
        {
            self.core.record_event(
                "opencode.reply_to_notice",
                json!({"session_id": self.sid, "message_id": id}),
            )?;
            self.ingested.insert(id);
            return Ok(());
        }
        // Who gets it is the daemon's routing: an address line, else the
        // agent whose prompt started this turn, else the pair's default.
        let answered = origin.as_ref().map(|m| m.from);
        let new = NewMessage {
            thread_id: Some(self.sid.clone()),
            turn_id: parent,
            source_item_id: Some(id.clone()),
            in_reply_to: origin_id,
            // `relay` sets each recipient (the `to` here is not used).
            ..NewMessage::new(super::PEER, super::PEER, a.text.clone())
        };
        let relayed = crate::daemon::routing::relay(&self.core, answered, new)?;
        for (m, fresh) in &relayed.stored {
            if *fresh {
                tracing::info!(message = %m.id, answer = %id, to = m.to.as_str(), "opencode answer stored");
            }
        }
        self.ingested.insert(id);
        Ok(())
    }

    /// A user message abg did not post, created since this connection
    /// opened: the human typed in the TUI (resets the loop governor).
    fn note_human(&mut self, messages: &[SessionMessage]) -> Result<(), LinkError> {
        for m in messages {
            if m.info.role != "user"
                || m.info.created_ms < self.connected_ms
                || self.humans_seen.contains(&m.info.id)
            {
                continue;
            }
            self.humans_seen.insert(m.info.id.clone());
            let ours: Option<String> = self
                .core
                .with_store(|s| s.get_setting(&origin_key(&m.info.id)))?;
            if ours.is_none() {
                crate::daemon::governor::human_input(
                    &self.core,
                    "human typed in the OpenCode TUI",
                )?;
            }
        }
        Ok(())
    }
}
