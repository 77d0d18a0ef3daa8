//! The quota relay's actions in the daemon. A task evaluates
//! [`decide`](super::decide::decide) whenever a reading arrives, a Codex
//! turn starts or ends, or every few seconds, and acts:
//!
//! - **Pause**: the side's deliveries are held by the gate (`gate`). When
//!   Codex pauses and Claude is not paused, Claude is told to continue solo.
//! - **Checkpoint**: the paused side is asked once (Codex at a turn
//!   boundary, through its normal queue) to write `.abg/checkpoint.md`;
//!   Claude is also asked to hand the task to Codex with one message, unless
//!   Codex is paused too.
//! - **Resume**: the pause is lifted, held messages are released, and (if a
//!   checkpoint was asked for) a resume prompt pointing at it is delivered.
//!
//! Every decision is a pair event with its figures. Notices carry an
//! idempotency key derived from the pause id, and the resume prompt is
//! also marked with a store tombstone, so a daemon restart at any point
//! never sends one twice. `abg budget pause|resume SIDE` acts by hand.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::decide::{self, Cause, Decision, Input, Pause, ResumeReason};
use super::readings::{Side, Window};
use super::sense::{self, WAKE};
use crate::clock::now_ms;
use crate::control::protocol::budget::ManualResult;
use crate::daemon::bus::LiveEvent;
use crate::daemon::core::{Core, CoreError};
use crate::store::types::PeerId;
use crate::store::types::{MessageKind, NewMessage};

const TICK: Duration = Duration::from_secs(5);
/// Where agents write their checkpoint, relative to the project root.
pub const CHECKPOINT: &str = ".abg/checkpoint.md";

/// The quota relay as a daemon component: its task follows readings and
/// Codex's turn boundaries (see [`run`]).
pub struct Relay;

impl crate::daemon::core::Component for Relay {
    fn name(&self) -> &'static str {
        "budget relay"
    }

    fn start(self: Arc<Self>, core: Arc<Core>) -> Option<tokio::task::JoinHandle<()>> {
        Some(tokio::spawn(run(core)))
    }
}

/// The relay task; returns on shutdown.
pub async fn run(core: Arc<Core>) {
    let mut live = core.bus().subscribe();
    let mut stop = core.shutdown_signal();
    let mut tick = tokio::time::interval(TICK);
    let mut turn_running = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = WAKE.notified() => {}
            ev = live.recv() => match ev.as_deref() {
                Ok(LiveEvent::Event { event }) => match event.kind.as_str() {
                    "codex.turn.started" => turn_running = true,
                    "codex.turn.completed" => turn_running = false,
                    _ => continue,
                },
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = stop.changed() => return,
        }
        if let Err(e) = step(&core, turn_running, now_ms()) {
            tracing::warn!("budget relay: {e}");
        }
    }
}

/// Decide and act until nothing is left to do; returns what was decided.
pub fn step(core: &Core, turn_running: bool, now: i64) -> Result<Vec<Decision>, CoreError> {
    let th = sense::thresholds(core);
    let latest = sense::all_latest(core)?;
    let mut all = Vec::new();
    // Pause → checkpoint → resume take at most three rounds.
    for _ in 0..3 {
        let mut state = sense::load_state(core)?;
        let decisions = decide::decide(&Input {
            now_ms: now,
            latest: &latest,
            state: &state,
            codex_turn_running: turn_running,
            th,
        });
        if decisions.is_empty() {
            break;
        }
        for d in &decisions {
            let before = state.get(side_of(d)).cloned();
            decide::apply(&mut state, d, now);
            let after = state.get(side_of(d)).cloned();
            if let Decision::Resume { side, .. } = d {
                // The resume prompt is stored before the pause is lifted, so
                // no worker can release (and deliver) the held messages
                // ahead of it. Exactly-once across a crash in between: the
                // pause persists, the resume is decided again, and the
                // tombstone and idempotency keys stop a second prompt.
                act(core, d, before.as_ref(), after.as_ref(), &state)?;
                sense::save_state(core, &state)?;
                core.bus().wake(side.agent());
            } else if matches!(d, Decision::RequestCheckpoint { .. }) {
                // Store the request before recording it as sent: a crash in
                // between asks again, and the notice's idempotency key keeps
                // that to one message.
                act(core, d, before.as_ref(), after.as_ref(), &state)?;
                sense::save_state(core, &state)?;
            } else {
                sense::save_state(core, &state)?;
                act(core, d, before.as_ref(), after.as_ref(), &state)?;
            }
        }
        all.extend(decisions);
    }
    Ok(all)
}

fn side_of(d: &Decision) -> Side {
    match d {
        Decision::Pause { side, .. }
        | Decision::RequestCheckpoint { side, .. }
        | Decision::Resume { side, .. } => *side,
    }
}

fn when(resets_at: Option<i64>) -> String {
    resets_at
        .map(|r| format!("resets at {}", crate::clock::utc(r.saturating_mul(1000))))
        .unwrap_or_else(|| "reset time unknown".into())
}

/// Store one budget notice from abg; false if it was sent before.
fn notice(
    core: &Core,
    to: Side,
    purpose: &str,
    key: &str,
    body: String,
) -> Result<bool, CoreError> {
    let new = NewMessage {
        kind: MessageKind::Notice,
        idempotency_key: Some(key.to_string()),
        meta: json!({"budget": purpose}),
        ..NewMessage::new(PeerId::ABG, to.agent(), body)
    };
    Ok(core.insert(&new)?.1)
}

fn quota_of(p: Option<&Pause>) -> (Option<Window>, Option<f64>, Option<i64>) {
    match p.map(|p| &p.cause) {
        Some(Cause::Quota {
            window,
            used_pct,
            resets_at,
        }) => (Some(*window), Some(*used_pct), *resets_at),
        _ => (None, None, None),
    }
}

fn act(
    core: &Core,
    d: &Decision,
    before: Option<&Pause>,
    after: Option<&Pause>,
    state: &decide::State,
) -> Result<(), CoreError> {
    match d {
        Decision::Pause {
            side,
            window,
            used_pct,
            resets_at,
            other_paused,
        } => {
            let id = after.map(|p| p.id.clone()).unwrap_or_default();
            core.record_event(
                "budget.pause",
                json!({"side": side, "window": window, "used_pct": used_pct,
                       "resets_at": resets_at, "other_paused": other_paused, "pause_id": id}),
            )?;
            tracing::info!(
                side = side.as_str(),
                window = window.as_str(),
                used_pct,
                "budget: pausing"
            );
            if *side == Side::Codex && !other_paused {
                notice(
                    core,
                    Side::Claude,
                    "solo",
                    &format!("budget-solo-{id}"),
                    format!(
                        "abg quota relay: Codex is paused: its {} window is at {used_pct:.0}% ({}). \
                         Continue the task on your own. Messages you send to Codex are held \
                         (budget_paused) and delivered when it resumes; Codex is writing its \
                         state to {CHECKPOINT}.",
                        window.label(),
                        when(*resets_at)
                    ),
                )?;
            }
        }
        Decision::RequestCheckpoint { side, other_paused } => {
            let id = after.map(|p| p.id.clone()).unwrap_or_default();
            let (window, used, resets) = quota_of(after);
            let head = format!(
                "abg quota relay: your {} window is at {:.0}% ({}).",
                window.map(Window::label).unwrap_or("quota"),
                used.unwrap_or(0.0),
                when(resets)
            );
            let sections = "with these sections: Task, Done, In progress, Next step, Decisions";
            let body = match (side, other_paused) {
                (Side::Codex, false) => format!(
                    "{head} Write a checkpoint to {CHECKPOINT} {sections}. Then stop and start \
                     nothing new: Claude continues alone, and abg sends you a resume prompt when \
                     your window resets."
                ),
                (Side::Codex, true) => format!(
                    "{head} Write a checkpoint to {CHECKPOINT} {sections}. Then stop: Claude is \
                     near its limit too, and abg resumes whichever agent's window resets first."
                ),
                (Side::Claude, false) => format!(
                    "{head} Write a checkpoint to {CHECKPOINT} {sections}. Then hand the task to \
                     Codex with ONE message (the reply tool) that points at the checkpoint, and \
                     stop. abg holds messages for you until your window resets, then sends you a \
                     resume prompt."
                ),
                (Side::Claude, true) => format!(
                    "{head} Write a checkpoint to {CHECKPOINT} {sections}, then stop. Codex is \
                     paused too, so do not hand off: abg resumes whichever agent's window resets \
                     first."
                ),
            };
            let sent = notice(
                core,
                *side,
                "checkpoint",
                &format!("budget-checkpoint-{id}"),
                body,
            )?;
            core.record_event(
                "budget.checkpoint_requested",
                json!({"side": side, "pause_id": id, "window": window, "used_pct": used,
                       "resets_at": resets, "other_paused": other_paused, "sent": sent}),
            )?;
        }
        Decision::Resume {
            side,
            reason,
            prompt,
        } => {
            let id = before.map(|p| p.id.clone()).unwrap_or_default();
            resume_actions(core, *side, &id, *prompt, reason_text(reason), state)?;
            core.record_event(
                "budget.resume",
                json!({"side": side, "pause_id": id, "reason": reason, "prompt": prompt}),
            )?;
        }
    }
    Ok(())
}

fn reason_text(r: &ResumeReason) -> String {
    match r {
        ResumeReason::WindowReset { window, .. } => {
            format!("your {} window has reset", window.label())
        }
        ResumeReason::BelowThreshold { window, used_pct } => {
            format!("your {} window is down to {used_pct:.0}%", window.label())
        }
    }
}

/// Release the side and, once per pause, send the resume prompt.
fn resume_actions(
    core: &Core,
    side: Side,
    pause_id: &str,
    prompt: bool,
    why: String,
    state: &decide::State,
) -> Result<(), CoreError> {
    tracing::info!(side = side.as_str(), pause_id, prompt, "budget: resuming");
    if prompt {
        let key = format!("budget-resume-{pause_id}");
        let done = core.with_store(|s| s.tombstone_get(&key))?.is_some();
        if !done {
            notice(
                core,
                side,
                "resume",
                &key,
                format!(
                    "abg quota relay: {why}. Resume the task from {CHECKPOINT}: read it, then \
                     continue with its next step. Messages held while you were paused follow."
                ),
            )?;
            core.with_store(|s| s.tombstone_insert(&key, json!({"side": side})))?;
            if state.get(side.other()).is_none() {
                notice(
                    core,
                    side.other(),
                    "back",
                    &format!("budget-back-{pause_id}"),
                    format!(
                        "abg quota relay: {} is back from its quota pause and resumes from \
                         {CHECKPOINT}; messages to it are delivered again.",
                        side.name()
                    ),
                )?;
            }
        }
    }
    // Held messages are released by the gate on the worker's next look.
    core.bus().wake(side.agent());
    Ok(())
}

/// `abg budget pause SIDE` / `resume SIDE`.
pub fn manual(core: &Core, side: Side, pause: bool) -> Result<ManualResult, CoreError> {
    let now = now_ms();
    let mut state = sense::load_state(core)?;
    let current = state.get(side).cloned();
    let result = match (pause, current) {
        (true, Some(p)) => ManualResult {
            changed: false,
            message: format!(
                "{} is already paused: {}",
                side.name(),
                super::report::pause_reason(side, &p)
            ),
        },
        (true, None) => {
            let p = Pause {
                id: format!("{}-{now}", side.as_str()),
                since_ms: now,
                cause: Cause::Manual,
                checkpoint_requested: false,
            };
            *state.slot(side) = Some(p.clone());
            sense::save_state(core, &state)?;
            core.record_event(
                "budget.pause",
                json!({"side": side, "manual": true, "pause_id": p.id}),
            )?;
            ManualResult {
                changed: true,
                message: format!(
                    "{} paused by hand: messages to it are held until `abg budget resume {}`",
                    side.name(),
                    side.as_str()
                ),
            }
        }
        (false, None) => ManualResult {
            changed: false,
            message: format!("{} is not paused", side.name()),
        },
        (false, Some(p)) => {
            *state.slot(side) = None;
            // The resume prompt before the pause is lifted (see `step`).
            resume_actions(
                core,
                side,
                &p.id,
                p.checkpoint_requested,
                "the human resumed you by hand".into(),
                &state,
            )?;
            sense::save_state(core, &state)?;
            core.bus().wake(side.agent());
            core.record_event(
                "budget.resume",
                json!({"side": side, "manual": true, "pause_id": p.id, "prompt": p.checkpoint_requested}),
            )?;
            ManualResult {
                changed: true,
                message: format!("{} resumed; held messages are being delivered", side.name()),
            }
        }
    };
    WAKE.notify_one();
    Ok(result)
}

#[cfg(test)]
mod tests;
