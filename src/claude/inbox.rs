//! The daemon's answers to Claude-side requests: push reports, acks, the
//! pull path, hook reports (busy/idle, evidence of what Claude saw, the Stop
//! hook's block decision), the doorbell question, channel registration and
//! whom a `reply` goes to (the core's routing decides).
//! Every state change goes through `Core::transition` (store + live stream).

use std::path::Path;

use super::link::{self, ChannelStatus, LinkState};
use super::policy::{self, DoorbellInput, Unacked};
use super::protocol::{ClaudeAnswer, ClaudeRequest, HookReply, HookReport, Recipient};
use super::transcript;
use crate::daemon::core::{Core, CoreError};
use crate::store::types::{DeliveryReason, DeliveryState, Note, Pending};

/// How long a stored message may wait for a live channel's push before the
/// Stop hook treats it as missed.
const STORED_GRACE_MS: i64 = 2_000;

/// Handle one request (blocking: may read a transcript).
pub fn handle(
    core: &Core,
    state: &LinkState,
    request: ClaudeRequest,
) -> Result<ClaudeAnswer, CoreError> {
    match request {
        ClaudeRequest::Pushed { ids } => {
            let now = crate::clock::now_ms();
            move_if(
                core,
                &ids,
                &[DeliveryState::Stored],
                DeliveryState::Pushed,
                Note::new(DeliveryReason::ChannelPush, "channel push"),
            )?;
            let mut st = state.lock();
            st.last_activity_ms = now;
            drop(st);
            done(core)
        }
        ClaudeRequest::Ack { ids } => {
            ack(
                core,
                &ids,
                Note::new(DeliveryReason::Acked, "acknowledged by Claude"),
            )?;
            done(core)
        }
        ClaudeRequest::FetchUnread { ack: and_ack } => {
            let rows = link::unacked(core)?;
            let messages: Vec<_> = rows
                .iter()
                .map(|p| link::peer_message(&p.message))
                .collect();
            if and_ack {
                let ids: Vec<String> = messages.iter().map(|m| m.id.clone()).collect();
                ack(
                    core,
                    &ids,
                    Note::new(DeliveryReason::Fetched, "get_messages"),
                )?;
            }
            let unread = unread(core)?;
            Ok(ClaudeAnswer::Unread { messages, unread })
        }
        ClaudeRequest::Recipients { to, in_reply_to } => {
            let ids = crate::daemon::routing::reply_recipients(
                core,
                crate::claude::PEER,
                to.as_deref(),
                in_reply_to.as_deref(),
            )?;
            let to = ids
                .into_iter()
                .filter_map(|id| core.peer(id))
                .map(|p| Recipient {
                    id: p.id,
                    name: p.name.to_string(),
                    takes_on_busy: p.takes_on_busy(),
                })
                .collect();
            Ok(ClaudeAnswer::Recipients { to })
        }
        ClaudeRequest::Hook { report } => hook(core, state, &report),
        ClaudeRequest::Doorbell => doorbell(core, state),
        ClaudeRequest::Rang { ids } => {
            let now = crate::clock::now_ms();
            let mut st = state.lock();
            st.last_ring_ms = now;
            st.last_activity_ms = now;
            st.rung.extend(ids.iter().cloned());
            drop(st);
            let _ = core.record_event("claude_doorbell", serde_json::json!({ "ids": ids }));
            done(core)
        }
        ClaudeRequest::Channel { registered, reason } => {
            state.lock().channel = Some(ChannelStatus {
                registered,
                reason: reason.clone(),
            });
            let _ = core.record_event(
                "claude_channel",
                serde_json::json!({ "registered": registered, "reason": reason }),
            );
            core.bus().wake(crate::claude::PEER);
            done(core)
        }
        ClaudeRequest::Permission(req) => {
            super::approvals::record(core, &req)?;
            done(core)
        }
        ClaudeRequest::PermissionSettled {
            session,
            request_id,
            outcome,
        } => {
            super::approvals::settled(core, &session, &request_id, outcome)?;
            done(core)
        }
    }
}

fn unread(core: &Core) -> Result<u64, CoreError> {
    Ok(core.with_store(|s| s.unacked_count(crate::claude::PEER))?)
}

fn done(core: &Core) -> Result<ClaudeAnswer, CoreError> {
    Ok(ClaudeAnswer::Done {
        unread: unread(core)?,
    })
}

/// Acknowledge `ids` for Claude, in one transaction; unknown ids and
/// finished deliveries are ignored.
fn ack(core: &Core, ids: &[String], why: Note<'_>) -> Result<(), CoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    core.transition_many(
        ids,
        crate::claude::PEER,
        DeliveryState::Acknowledged,
        why,
        |s| !s.is_terminal(),
    )?;
    Ok(())
}

/// Move each of `ids` to `to` only from one of `from`, in one transaction.
fn move_if(
    core: &Core,
    ids: &[String],
    from: &[DeliveryState],
    to: DeliveryState,
    why: Note<'_>,
) -> Result<(), CoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    core.transition_many(ids, crate::claude::PEER, to, why, |s| from.contains(&s))?;
    Ok(())
}

fn hook(core: &Core, state: &LinkState, report: &HookReport) -> Result<ClaudeAnswer, CoreError> {
    let now = crate::clock::now_ms();
    let rows = link::unacked(core)?;
    let ids: Vec<String> = rows.iter().map(|p| p.message.id.clone()).collect();
    let mut seen = report
        .transcript_path
        .as_deref()
        .map(|p| transcript::ids_in(Path::new(p), &ids))
        .unwrap_or_default();
    // A push that starts a turn arrives as its prompt: seen right now.
    seen.extend(
        report
            .prompt_ids
            .iter()
            .filter(|id| ids.contains(id))
            .cloned(),
    );
    let event = report.event.as_str();
    tracing::debug!(
        event,
        transcript = report.transcript_path.as_deref().unwrap_or(""),
        unacked = ids.len(),
        seen = seen.len(),
        stop_hook_active = report.stop_hook_active,
        "claude hook"
    );
    let mut reply = HookReply::default();
    match event {
        "Stop" => reply = stop(core, state, report, &rows, &seen, now)?,
        _ => {
            // In queue order, so the history reads oldest first.
            let seen_ids: Vec<String> = ids
                .iter()
                .filter(|id| seen.contains(*id))
                .cloned()
                .collect();
            ack(
                core,
                &seen_ids,
                Note::new(
                    DeliveryReason::InTranscript,
                    &format!("in Claude's transcript ({event} hook)"),
                ),
            )?;
            let mut human_typed = false;
            let mut st = state.lock();
            st.last_activity_ms = now;
            match event {
                "SessionStart" => {
                    st.busy = false;
                    st.marks.prev_stop_ms = now;
                    st.marks.consecutive_blocks = 0;
                }
                "UserPromptSubmit" => {
                    st.busy = true;
                    if report.human_prompt {
                        human_typed = true;
                    }
                    if report.prompt_ids.is_empty() {
                        st.marks.last_prompt_ms = now;
                    }
                    st.marks.consecutive_blocks = 0;
                }
                _ => st.busy = true,
            }
            drop(st);
            if human_typed {
                crate::daemon::governor::human_input(core, "human typed in the Claude TUI")?;
            }
            let left = ids.len().saturating_sub(seen.len());
            let human = report.prompt_ids.is_empty();
            if left > 0 && human && matches!(event, "SessionStart" | "UserPromptSubmit") {
                let s = if left == 1 { "" } else { "s" };
                let from = policy::senders(
                    rows.iter()
                        .filter(|p| !seen.contains(&p.message.id))
                        .map(|p| p.message.from),
                );
                reply.additional_context = Some(format!(
                    "abg: {left} unread message{s} from {from} (call get_messages to read them)."
                ));
            }
        }
    }
    Ok(ClaudeAnswer::Hook {
        reply,
        unread: unread(core)?,
    })
}

fn stop(
    core: &Core,
    state: &LinkState,
    report: &HookReport,
    rows: &[Pending],
    seen: &std::collections::HashSet<String>,
    now: i64,
) -> Result<HookReply, CoreError> {
    let (marks, items) = {
        let st = state.lock();
        let items: Vec<Unacked> = rows
            .iter()
            .map(|p| Unacked {
                id: p.message.id.clone(),
                state: p.delivery.state,
                changed_ms: p.delivery.updated_ms,
                in_transcript: seen.contains(&p.message.id),
                blocked_before: st.blocked.contains(&p.message.id),
            })
            .collect();
        (st.marks, items)
    };
    let cutoff = if state.channel_usable() {
        now - STORED_GRACE_MS
    } else {
        i64::MAX
    };
    let decision = policy::stop_decision(report.stop_hook_active, &items, marks, cutoff);
    ack(
        core,
        &decision.ack,
        Note::new(DeliveryReason::InContext, "in Claude's context (Stop hook)"),
    )?;
    let mut reply = HookReply::default();
    let blocked: Vec<_> = rows
        .iter()
        .filter(|p| decision.block.contains(&p.message.id))
        .map(|p| link::peer_message(&p.message))
        .collect();
    let mut used = Vec::new();
    if !blocked.is_empty() {
        let (reason, ids) = policy::stop_reason(&blocked, blocked.len());
        move_if(
            core,
            &ids,
            &[DeliveryState::Stored, DeliveryState::Pushed],
            DeliveryState::Seen,
            Note::new(
                DeliveryReason::StopHookFeedback,
                "delivered as Stop hook feedback",
            ),
        )?;
        reply.block_reason = Some(reason);
        used = ids;
    }
    let mut st = state.lock();
    st.last_activity_ms = now;
    if used.is_empty() {
        st.busy = false;
        st.marks.prev_stop_ms = now;
        st.marks.consecutive_blocks = 0;
    } else {
        st.marks.consecutive_blocks += 1;
        st.blocked.extend(used.iter().cloned());
    }
    drop(st);
    if !used.is_empty() {
        let _ = core.record_event("claude_stop_block", serde_json::json!({ "ids": used }));
    }
    Ok(reply)
}

fn doorbell(core: &Core, state: &LinkState) -> Result<ClaudeAnswer, CoreError> {
    let now = crate::clock::now_ms();
    let rows = link::unacked(core)?;
    let unacked: Vec<(String, i64)> = rows
        .iter()
        .filter(|p| p.delivery.state != DeliveryState::Seen)
        .map(|p| (p.message.id.clone(), p.delivery.updated_ms))
        .collect();
    let st = state.lock();
    let configured =
        i64::try_from(core.config().settings.claude_doorbell().as_millis()).unwrap_or(10_000);
    let threshold = if st.channel.as_ref().is_some_and(|c| !c.registered) {
        configured.min(1_000)
    } else {
        configured
    };
    let idle = !st.busy || now - st.last_activity_ms > 300_000;
    let ids = policy::doorbell(&DoorbellInput {
        now_ms: now,
        unacked: &unacked,
        idle,
        last_activity_ms: st.last_activity_ms,
        threshold_ms: threshold,
        last_ring_ms: st.last_ring_ms,
        rung: &st.rung,
    });
    let from = rows
        .iter()
        .filter(|p| ids.contains(&p.message.id))
        .map(|p| p.message.from)
        .collect();
    Ok(ClaudeAnswer::Doorbell { ids, from })
}
