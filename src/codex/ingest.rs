//! Codex → the other agents: what Codex says becomes stored messages, what
//! it does becomes pair events. Why it exists: every completed
//! `agentMessage` item must reach its recipients exactly once (the item id
//! is the message's source key, per recipient as `daemon::routing` keys
//! it), including items that completed while abg was not subscribed yet
//! (the TUI's first turn) or not running (a killed daemon). Who receives
//! it is the core's routing decision (`daemon::routing::relay`): an `@peer`
//! address line, else the sender of the message that started the turn
//! (the first message delivered into it, from memory or from the
//! deliveries' recorded turn ids), else `routing.default_to`.

use serde_json::json;

use super::link::{Link, LinkError};
use super::protocol::{Thread, ThreadItem};
use crate::daemon::routing;
use crate::store::types::NewMessage;

/// How far before adopting a thread its turns are still relayed.
const CATCH_UP_SECS: i64 = 120;

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Link {
    /// Ingest what Codex said in this thread while nobody was subscribed
    /// (the TUI's first turn runs before its thread can be resumed; a
    /// restarted daemon missed its downtime). Only turns since the pair
    /// adopted the thread count; item ids make repeats harmless.
    pub(super) fn catch_up(&mut self, thread: &Thread) -> Result<(), LinkError> {
        let key = format!("codex.since.{}", thread.id);
        let since: Option<i64> = self.core.with_store(|s| s.get_setting(&key))?;
        let since = match since {
            Some(t) => t,
            None => {
                let t = unix_now() - CATCH_UP_SECS;
                self.core.with_store(|s| s.set_setting(&key, &t))?;
                t
            }
        };
        for turn in &thread.turns {
            if turn.started_at.is_none_or(|t| t < since) {
                continue;
            }
            for item in &turn.items {
                if matches!(item, ThreadItem::AgentMessage { .. }) {
                    self.ingest(&thread.id, &turn.id, item.clone())?;
                }
            }
        }
        Ok(())
    }

    /// A completed item: agent text goes where routing says, tool use to
    /// events.
    pub(super) fn ingest(
        &mut self,
        thread_id: &str,
        turn_id: &str,
        item: ThreadItem,
    ) -> Result<(), LinkError> {
        match item {
            ThreadItem::AgentMessage { id, text } => {
                if text.trim().is_empty() {
                    return Ok(());
                }
                if self.notice_turns.contains(turn_id) {
                    self.core.record_event(
                        "codex.reply_to_notice",
                        json!({"thread_id": thread_id, "turn_id": turn_id, "item_id": id}),
                    )?;
                    return Ok(());
                }
                let delivered = self.turn_messages.get(turn_id);
                let in_reply_to = delivered.and_then(|v| v.last().cloned());
                // Who started this turn: the first message delivered into
                // it (the store remembers it across a restart).
                let starter = match delivered.and_then(|v| v.first()) {
                    Some(first) => self.core.with_store(|s| s.get_message(first))?,
                    None => self
                        .core
                        .with_store(|s| s.first_of_turn(crate::codex::PEER, turn_id))?,
                };
                let new = NewMessage {
                    thread_id: Some(thread_id.to_string()),
                    turn_id: Some(turn_id.to_string()),
                    source_item_id: Some(id),
                    in_reply_to,
                    // `to` is routing's to decide.
                    ..NewMessage::new(crate::codex::PEER, crate::claude::PEER, text)
                };
                let relayed = routing::relay(&self.core, starter.map(|m| m.from), new)?;
                for (m, fresh) in &relayed.stored {
                    if *fresh {
                        tracing::info!(message = %m.id, to = m.to.as_str(), turn = %turn_id, "codex message stored");
                    }
                }
                if let Some(why) = relayed.not_relayed {
                    tracing::info!(turn = %turn_id, "codex message not relayed: {why}");
                }
            }
            ThreadItem::CommandExecution {
                id,
                command,
                cwd,
                exit_code,
                status,
            } => {
                self.core.record_event(
                    "codex.command",
                    json!({"thread_id": thread_id, "turn_id": turn_id, "item_id": id,
                           "command": command, "cwd": cwd, "exit_code": exit_code, "status": status}),
                )?;
            }
            ThreadItem::FileChange {
                id,
                changes,
                status,
            } => {
                let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
                self.core.record_event(
                    "codex.file_change",
                    json!({"thread_id": thread_id, "turn_id": turn_id, "item_id": id,
                           "paths": paths, "status": status}),
                )?;
            }
            ThreadItem::UserMessage { client_id, .. } => {
                // abg delivers with clientUserMessageId = the message id; any
                // other user message was typed by the human in the TUI.
                let from_abg = match client_id.as_deref() {
                    Some(id) => self.core.with_store(|s| s.get_message(id))?.is_some(),
                    None => false,
                };
                if !from_abg {
                    crate::daemon::governor::human_input(
                        &self.core,
                        "human typed in the Codex TUI",
                    )?;
                }
            }
            ThreadItem::Unknown => {}
        }
        Ok(())
    }
}
