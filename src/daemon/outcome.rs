//! What a waiting sender is told about its message: the settled outcome of a delivery,
//! read from the delivery's history (states and their typed reasons, never the detail
//! text). `Core::send_and_wait` polls it until it settles or the wait ends.

use crate::control::protocol::{Outcome, OutcomeCode};
use crate::store::types::{DeliveryLogEntry, DeliveryReason, DeliveryState};

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
                .is_some_and(|e| e.reason == Some(DeliveryReason::Steered))
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
        DeliveryState::Queued if last.reason.is_some_and(DeliveryReason::settles_queued) => {
            Some(outcome(OutcomeCode::Queued, last.detail.as_ref()))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::PeerId;
    use DeliveryReason as R;
    use DeliveryState as S;

    fn log(steps: &[(S, Option<R>)]) -> Vec<DeliveryLogEntry> {
        steps
            .iter()
            .enumerate()
            .map(|(i, (state, reason))| DeliveryLogEntry {
                seq: i as i64 + 1,
                message_id: "m_1".into(),
                recipient: PeerId::from_static("codex"),
                state: *state,
                reason: *reason,
                detail: Some("free text, never read for meaning".into()),
                ts_ms: 0,
            })
            .collect()
    }

    fn code(steps: &[(S, Option<R>)]) -> Option<OutcomeCode> {
        outcome_of(&log(steps)).map(|o| o.code)
    }

    #[test]
    fn outcomes_follow_states_and_reasons() {
        use OutcomeCode as O;
        assert_eq!(code(&[]), None);
        assert_eq!(code(&[(S::Queued, None)]), None);
        assert_eq!(code(&[(S::Queued, Some(R::Starting))]), None);
        assert_eq!(code(&[(S::Queued, Some(R::TurnRunning))]), None);
        assert_eq!(code(&[(S::Queued, Some(R::BehindTurn))]), Some(O::Queued));
        assert_eq!(code(&[(S::Queued, Some(R::SteerRefused))]), Some(O::Queued));
        assert_eq!(
            code(&[(S::Queued, None), (S::Started, Some(R::TurnStarted))]),
            Some(O::Delivered)
        );
        assert_eq!(
            code(&[
                (S::Steering, Some(R::Steering)),
                (S::Started, Some(R::Steered)),
                (S::Completed, Some(R::TurnEnded))
            ]),
            Some(O::Steered)
        );
        assert_eq!(
            code(&[
                (S::Interrupting, Some(R::Interrupting)),
                (S::Started, Some(R::TurnStarted))
            ]),
            Some(O::Interrupted)
        );
        assert_eq!(code(&[(S::Held, Some(R::GovernorHold))]), Some(O::Held));
        assert_eq!(
            code(&[(S::Failed, Some(R::GovernorDamped))]),
            Some(O::Failed)
        );
        assert_eq!(
            code(&[(S::Pushed, Some(R::ChannelPush))]),
            Some(O::Delivered)
        );
    }
}
