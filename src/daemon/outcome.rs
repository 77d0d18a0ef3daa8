//! The settled outcome of a delivery, read from its history, for a sender
//! that waits (`abg send --wait`, the `reply` tool, the web composer).

use crate::control::protocol::{Outcome, OutcomeCode};
use crate::store::types::{DeliveryLogEntry, DeliveryState};

/// The settled outcome of a delivery from its history, if it has settled:
/// it became a turn (delivered / steered / interrupted), reached Claude,
/// was held or failed, or is queued behind a running turn.
pub fn outcome_of(log: &[DeliveryLogEntry]) -> Option<Outcome> {
    let last = log.last()?;
    let seen = |st: DeliveryState| log.iter().any(|e| e.state == st);
    let outcome = |code, reason: Option<&String>| Outcome {
        code,
        turn_id: None,
        reason: reason.cloned(),
    };
    match last.state {
        DeliveryState::Started | DeliveryState::Completed => Some(Outcome {
            code: if seen(DeliveryState::Interrupting) {
                OutcomeCode::Interrupted
            } else if log
                .iter()
                .rev()
                .find(|e| e.state == DeliveryState::Started)
                .is_some_and(|e| {
                    e.detail
                        .as_deref()
                        .is_some_and(|d| d.starts_with("steered"))
                })
            {
                OutcomeCode::Steered
            } else {
                OutcomeCode::Delivered
            },
            turn_id: None,
            reason: None,
        }),
        DeliveryState::Pushed | DeliveryState::Seen | DeliveryState::Acknowledged => {
            Some(outcome(OutcomeCode::Delivered, None))
        }
        DeliveryState::Held => Some(outcome(OutcomeCode::Held, last.detail.as_ref())),
        DeliveryState::Failed => Some(outcome(OutcomeCode::Failed, last.detail.as_ref())),
        // Queued behind a running turn (or a refused steer): settled as queued.
        DeliveryState::Queued
            if last.detail.as_deref().is_some_and(|d| {
                d.starts_with("waiting for turn") || d.starts_with("steer refused")
            }) =>
        {
            Some(outcome(OutcomeCode::Queued, last.detail.as_ref()))
        }
        _ => None,
    }
}
