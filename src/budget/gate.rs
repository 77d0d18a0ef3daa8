//! The delivery gate of the quota relay, called by both delivery workers on
//! their queue (Codex: `delivery::pump`; Claude: `link::unacked`).
//!
//! While a side is paused, messages for it that have not been handed over
//! yet are moved to `held` with the reason `budget_paused` and a
//! `budget_paused: …` detail (senders who wait see the outcome `held` with
//! that text and the reset time) and
//! left out of the queue; abg's own budget notices (checkpoint request,
//! resume prompt) still pass. Once the side is no longer paused, messages
//! the budget held go back to the start of their state machine, in order.
//! Budget notices always come first in the returned queue, so the resume
//! prompt reaches the agent before the messages held while it was paused
//! (which it announces), although they were stored earlier.
//! The gate never fails delivery: store errors are logged and the queue is
//! returned as it was.

use super::decide::State;
use super::readings::Side;
use super::report::pause_reason;
use super::sense;
use crate::daemon::core::{Core, CoreError};
use crate::store::types::{DeliveryReason, DeliveryState, Note, PeerId, Pending};

/// How the delivery detail of messages the budget holds begins (for people;
/// code reads the reason).
pub const HELD_PREFIX: &str = "budget_paused";

/// Whether a message is one of abg's budget notices.
pub fn is_budget_notice(p: &Pending) -> bool {
    p.message.from == PeerId::ABG && p.message.meta.get("budget").is_some()
}

fn budget_held(p: &Pending) -> bool {
    p.delivery.hold() == Some(DeliveryReason::BudgetPaused)
}

/// Filter `rows` (the recipient's pending queue, oldest first) through the
/// budget. See the module doc.
pub fn gate(core: &Core, recipient: PeerId, rows: Vec<Pending>) -> Vec<Pending> {
    let Some(side) = Side::of_agent(recipient) else {
        return rows;
    };
    let state: State = match sense::load_state(core) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("budget gate cannot read its state: {e}");
            return rows;
        }
    };
    match apply(
        core,
        side,
        state.get(side).map(|p| pause_reason(side, p)),
        rows.clone(),
    ) {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!("budget gate: {e}");
            rows
        }
    }
}

fn apply(
    core: &Core,
    side: Side,
    paused: Option<String>,
    rows: Vec<Pending>,
) -> Result<Vec<Pending>, CoreError> {
    let agent = side.agent();
    let Some(model) = core.with_store(|s| s.delivery_model(agent.as_str())) else {
        return Ok(rows);
    };
    let initial = model.initial();
    let mut out = Vec::with_capacity(rows.len());
    for mut p in rows {
        match &paused {
            Some(reason) => {
                if is_budget_notice(&p) {
                    out.push(p);
                } else if budget_held(&p) {
                    // Held: left out so it does not block budget notices.
                } else if p.delivery.state == initial
                    // The Codex delivery's crash marker: never hold such a message (it
                    // may already be a turn, and releasing it would lose the marker).
                    && p.delivery.reason != Some(DeliveryReason::Starting)
                {
                    let detail = format!("{HELD_PREFIX}: {reason}");
                    core.transition(
                        &p.message.id,
                        agent,
                        DeliveryState::Held,
                        Note::new(DeliveryReason::BudgetPaused, &detail),
                        None,
                    )?;
                } else {
                    out.push(p);
                }
            }
            None => {
                if budget_held(&p) {
                    let t = core.transition(
                        &p.message.id,
                        agent,
                        initial,
                        Note::new(
                            DeliveryReason::BudgetResumed,
                            "released: the budget pause ended",
                        ),
                        None,
                    )?;
                    p.delivery = t.delivery;
                }
                out.push(p);
            }
        }
    }
    // Stable: notices first, each group in its stored order.
    out.sort_by_key(|p| !is_budget_notice(p));
    Ok(out)
}
