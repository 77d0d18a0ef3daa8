//! Claude → Codex delivery: what to do with the next queued message, and
//! doing it on the app-server.
//!
//! Why it exists: a message must reach Codex in order and exactly once,
//! whatever Codex is doing. [`decide`] is the pure policy over (turn state,
//! the message's on-busy policy): idle → `turn/start`; busy → wait
//! (`queue`, the default), `turn/steer` into the running turn (`steer`; a
//! refusal falls back to queue and says why), or `turn/interrupt`, wait for
//! the turn's terminal `turn/completed`, then `turn/start` (`interrupt`).
//! The executor ([`Link::pump`]) applies it to the head of the store's
//! queue, recording every step as a delivery transition; the message id is
//! the turn's `clientUserMessageId`, which also lets a restarted daemon see
//! that a message it was sending already became a turn.

use std::time::{Duration, Instant};

use serde_json::json;

use super::link::{Link, LinkError};
use super::protocol::methods::{TurnInterrupt, TurnStart, TurnSteer};
use super::protocol::{
    ThreadItem, TurnInterruptParams, TurnStartParams, TurnSteerParams, UserInput,
};
use super::session::{self, RPC_TIMEOUT, TurnState};
use super::transport::TransportError;
use crate::daemon::peer::prompt_text;
use crate::store::types::{
    DeliveryReason, DeliveryState, Message, MessageKind, Note, OnBusy, Pending,
};

/// How long an interrupted turn may take to end before giving up.
pub const INTERRUPT_WAIT: Duration = Duration::from_secs(10);

/// What to do with the next message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Codex is idle: start a turn with it.
    Start,
    /// Steer it into the running turn.
    Steer { turn_id: String },
    /// Interrupt the running turn, then start a turn with it.
    Interrupt { turn_id: String },
    /// Keep it queued, for `cause` (said as `reason`).
    Wait {
        cause: DeliveryReason,
        reason: String,
    },
}

/// The delivery policy (pure). `steer_refused`: a steer of this message was
/// refused before, so it now waits like a queued one.
pub fn decide(turn: &TurnState, policy: OnBusy, steer_refused: bool) -> Action {
    match turn {
        TurnState::Unknown => Action::Wait {
            cause: DeliveryReason::TurnStateUnknown,
            reason: "waiting for Codex's turn state".into(),
        },
        TurnState::Idle => Action::Start,
        TurnState::Active { turn_id, .. } if turn_id.is_empty() => Action::Wait {
            cause: DeliveryReason::TurnRunning,
            reason: "waiting for the running turn to end".into(),
        },
        TurnState::Active { turn_id, .. } => match policy {
            OnBusy::Steer if !steer_refused => Action::Steer {
                turn_id: turn_id.clone(),
            },
            OnBusy::Interrupt => Action::Interrupt {
                turn_id: turn_id.clone(),
            },
            OnBusy::Queue | OnBusy::Steer => Action::Wait {
                cause: DeliveryReason::BehindTurn,
                reason: format!("waiting for turn {turn_id} to end"),
            },
        },
    }
}

/// Deliveries the worker still has to act on (a started turn is followed
/// through its notifications, not re-read from the queue).
const WAITING: [DeliveryState; 4] = [
    DeliveryState::Queued,
    DeliveryState::Steering,
    DeliveryState::Interrupting,
    DeliveryState::Held,
];

impl Link {
    /// Deliver queued messages until one has to wait.
    pub(super) async fn pump(&mut self) -> Result<(), LinkError> {
        loop {
            let Some(thread_id) = self.session.thread_id().map(str::to_owned) else {
                return Ok(());
            };
            let pending = self
                .core
                .with_store(|s| s.pending_in_states(crate::codex::PEER, &WAITING, 1000))?;
            // Nothing waiting: nothing a dead daemon can have half sent
            // (the first message of this connection then skips the check).
            self.head_checked |= pending.is_empty();
            // Quota relay (issue 7): hold messages while Codex is budget-paused.
            let pending = crate::budget::gate::gate(&self.core, crate::codex::PEER, pending);
            // Messages the loop governor holds stay behind; abg's own notices
            // and the human's messages still go through.
            let governor_held =
                |p: &Pending| p.delivery.hold() == Some(DeliveryReason::GovernorHold);
            let Some(next) = pending
                .into_iter()
                .find(|p| p.delivery.state != DeliveryState::Started && !governor_held(p))
            else {
                return Ok(());
            };
            if next.delivery.state == DeliveryState::Held {
                return Ok(());
            }
            let id = next.message.id.clone();
            let interrupted_send = matches!(
                next.delivery.state,
                DeliveryState::Steering | DeliveryState::Interrupting
            ) || next.delivery.reason == Some(DeliveryReason::Starting)
                || !self.head_checked;
            self.head_checked = true;
            if interrupted_send && self.already_delivered(&thread_id, &next).await? {
                continue;
            }
            let policy = next.message.on_busy.unwrap_or(OnBusy::Queue);
            let action = decide(&self.session.turn, policy, self.steer_refused.contains(&id));
            let progressed = match action {
                Action::Start => self.start(&thread_id, &next).await?,
                Action::Steer { turn_id } => self.steer(&thread_id, &turn_id, &next).await?,
                Action::Interrupt { turn_id } => {
                    self.interrupt(&thread_id, &turn_id, &next).await?
                }
                Action::Wait { cause, reason } => {
                    let note = Note::new(cause, &reason);
                    if !next.delivery.has_note(&note)
                        && next.delivery.state == DeliveryState::Queued
                        && !self.steer_refused.contains(&id)
                    {
                        self.core.transition(
                            &id,
                            crate::codex::PEER,
                            DeliveryState::Queued,
                            note,
                            None,
                        )?;
                    }
                    false
                }
            };
            if !progressed {
                return Ok(());
            }
        }
    }

    /// After a crash mid-send: did this message already become a turn?
    async fn already_delivered(&mut self, thread_id: &str, p: &Pending) -> Result<bool, LinkError> {
        let thread = session::read(&self.conn, thread_id, true).await?;
        for turn in &thread.turns {
            let hit = turn.items.iter().any(|i| {
                matches!(i, ThreadItem::UserMessage { client_id: Some(c), .. } if *c == p.message.id)
            });
            if hit {
                let id = &p.message.id;
                tracing::info!(message = %id, turn = %turn.id, "message already became a turn");
                self.core.transition(
                    id,
                    crate::codex::PEER,
                    DeliveryState::Started,
                    Note::new(DeliveryReason::TurnFound, "turn found after reconnect"),
                    Some(&turn.id),
                )?;
                if turn.status.is_terminal() {
                    self.core.transition(
                        id,
                        crate::codex::PEER,
                        DeliveryState::Completed,
                        None,
                        None,
                    )?;
                } else {
                    self.track(&turn.id, &p.message);
                }
                return Ok(true);
            }
        }
        Ok(false)
    }

    fn track(&mut self, turn_id: &str, m: &Message) {
        self.turn_messages
            .entry(turn_id.to_string())
            .or_default()
            .push(m.id.clone());
        if m.kind == MessageKind::Notice {
            self.notice_turns.insert(turn_id.to_string());
        }
    }

    /// `turn/start`; true when the message became a turn.
    async fn start(&mut self, thread_id: &str, p: &Pending) -> Result<bool, LinkError> {
        let id = &p.message.id;
        let params = TurnStartParams {
            thread_id: thread_id.to_string(),
            client_user_message_id: id.clone(),
            input: vec![UserInput::text(prompt_text(
                &p.message,
                self.core.peer(p.message.from).map(|s| s.name),
            ))],
        };
        let reply = self.conn.send_request::<TurnStart>(params)?;
        // The crash marker is recorded while Codex answers, not before the
        // frame goes out (a commit less on the hop). The writer task waits
        // in this worker's slot: let it write first. A daemon that dies
        // before the marker lands leaves the message queued without it;
        // the next connection's first pump checks the head of the queue
        // against the thread (`head_checked`), so it is not sent twice.
        tokio::task::yield_now().await;
        if p.delivery.state != DeliveryState::Interrupting {
            self.core.transition(
                id,
                crate::codex::PEER,
                DeliveryState::Queued,
                Note::new(DeliveryReason::Starting, "starting a turn"),
                None,
            )?;
        }
        match reply.wait(RPC_TIMEOUT).await {
            Ok(r) => {
                let turn_id = r.turn.id;
                self.core.transition(
                    id,
                    crate::codex::PEER,
                    DeliveryState::Started,
                    Note::new(DeliveryReason::TurnStarted, "turn started"),
                    Some(&turn_id),
                )?;
                self.session.turn = TurnState::active(turn_id.clone());
                self.track(&turn_id, &p.message);
                Ok(true)
            }
            Err(TransportError::Rpc { error, .. }) => {
                let why = format!("turn/start refused: {}; will retry", error.message);
                tracing::warn!(message = %id, "{why}");
                let note = Note::new(DeliveryReason::StartRefused, &why);
                self.core
                    .transition(id, crate::codex::PEER, DeliveryState::Queued, note, None)?;
                // Re-read the turn state: the refusal usually means busy.
                self.resync().await?;
                self.retry_after = Some(Instant::now() + Duration::from_secs(1));
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn steer(
        &mut self,
        thread_id: &str,
        turn_id: &str,
        p: &Pending,
    ) -> Result<bool, LinkError> {
        let id = &p.message.id;
        self.core.transition(
            id,
            crate::codex::PEER,
            DeliveryState::Steering,
            Note::new(
                DeliveryReason::Steering,
                &format!("steering into turn {turn_id}"),
            ),
            None,
        )?;
        let params = TurnSteerParams {
            thread_id: thread_id.to_string(),
            expected_turn_id: turn_id.to_string(),
            client_user_message_id: id.clone(),
            input: vec![UserInput::text(prompt_text(
                &p.message,
                self.core.peer(p.message.from).map(|s| s.name),
            ))],
        };
        match self.conn.request::<TurnSteer>(params, RPC_TIMEOUT).await {
            Ok(r) => {
                self.core.transition(
                    id,
                    crate::codex::PEER,
                    DeliveryState::Started,
                    Note::new(DeliveryReason::Steered, "steered into the running turn"),
                    Some(&r.turn_id),
                )?;
                self.track(&r.turn_id, &p.message);
                Ok(true)
            }
            Err(TransportError::Rpc { error, .. }) => {
                let why = format!(
                    "steer refused ({}); queued until the turn ends",
                    error.message
                );
                tracing::info!(message = %id, "{why}");
                self.steer_refused.insert(id.clone());
                let note = Note::new(DeliveryReason::SteerRefused, &why);
                self.core
                    .transition(id, crate::codex::PEER, DeliveryState::Queued, note, None)?;
                self.core.record_event(
                    "codex.steer_refused",
                    json!({"message_id": id, "turn_id": turn_id, "error": error.message}),
                )?;
                self.resync().await?;
                Ok(true)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn interrupt(
        &mut self,
        thread_id: &str,
        turn_id: &str,
        p: &Pending,
    ) -> Result<bool, LinkError> {
        let id = &p.message.id;
        self.core.transition(
            id,
            crate::codex::PEER,
            DeliveryState::Interrupting,
            Note::new(
                DeliveryReason::Interrupting,
                &format!("interrupting turn {turn_id}"),
            ),
            None,
        )?;
        let params = TurnInterruptParams {
            thread_id: thread_id.to_string(),
            turn_id: turn_id.to_string(),
        };
        if let Err(e) = self
            .conn
            .request::<TurnInterrupt>(params, INTERRUPT_WAIT)
            .await
        {
            match e {
                TransportError::Rpc { .. } | TransportError::Timeout { .. } => {
                    tracing::warn!(message = %id, "turn/interrupt: {e}");
                }
                other => return Err(other.into()),
            }
        }
        if !self.wait_turn_end(turn_id, INTERRUPT_WAIT).await? {
            let why = format!("turn {turn_id} did not end after the interrupt; queued");
            let note = Note::new(DeliveryReason::InterruptTimeout, &why);
            self.core
                .transition(id, crate::codex::PEER, DeliveryState::Queued, note, None)?;
            self.core.record_event(
                "codex.interrupt_timeout",
                json!({"message_id": id, "turn_id": turn_id}),
            )?;
            return Ok(false);
        }
        let mut p = p.clone();
        p.delivery.state = DeliveryState::Interrupting;
        self.start(thread_id, &p).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn active(id: &str) -> TurnState {
        TurnState::active(id)
    }

    #[test]
    fn decision_table() {
        use OnBusy::*;
        let cases: Vec<(TurnState, OnBusy, bool, Action)> = vec![
            (TurnState::Idle, Queue, false, Action::Start),
            (TurnState::Idle, Steer, false, Action::Start),
            (TurnState::Idle, Interrupt, false, Action::Start),
            (
                active("t1"),
                Queue,
                false,
                Action::Wait {
                    cause: DeliveryReason::BehindTurn,
                    reason: "waiting for turn t1 to end".into(),
                },
            ),
            (
                active("t1"),
                Steer,
                false,
                Action::Steer {
                    turn_id: "t1".into(),
                },
            ),
            (
                active("t1"),
                Steer,
                true,
                Action::Wait {
                    cause: DeliveryReason::BehindTurn,
                    reason: "waiting for turn t1 to end".into(),
                },
            ),
            (
                active("t1"),
                Interrupt,
                false,
                Action::Interrupt {
                    turn_id: "t1".into(),
                },
            ),
        ];
        for (state, policy, refused, want) in cases {
            assert_eq!(
                decide(&state, policy, refused),
                want,
                "{state:?} {policy:?} {refused}"
            );
        }
        // Unknown state or an active turn without an id never sends.
        for policy in [Queue, Steer, Interrupt] {
            assert!(matches!(
                decide(&TurnState::Unknown, policy, false),
                Action::Wait { .. }
            ));
            assert!(matches!(
                decide(&active(""), policy, false),
                Action::Wait { .. }
            ));
        }
    }
}
