//! Messages for OpenCode → prompts in the pair's session.
//!
//! Why it exists: a message must reach OpenCode in order and exactly once.
//! [`decide`] is the pure policy: post the next queued message as a prompt
//! (`prompt_async`) only when the session is idle and no earlier prompt of
//! abg's is still unseen or running; otherwise it waits, with the reason
//! recorded. OpenCode runs a prompt posted while busy as a turn of its own
//! after the current one (`on_busy` steer and interrupt are not offered by
//! its API, so every message waits like `queue`).
//!
//! abg chooses each prompt's `messageID` ([`prompt_id`], OpenCode's own
//! format) and stores it before the POST (the crash marker). Posting the
//! same id twice is not idempotent (it appends a second text part), so a
//! message that may already have been posted is looked up first and
//! posted only when the server says 404. A delivery is `started` only once
//! abg has seen its user message (on `/event`, or in the session's
//! messages when the event was missed) and `completed` when its answer
//! finished or the session went idle after it.

use std::time::{Duration, Instant};

use super::link::{InFlight, Link, LinkError};
use crate::daemon::peer::prompt_text;
use crate::store::types::{DeliveryReason, DeliveryState, Message, Note, Pending};

/// How long a posted prompt may stay unseen before abg looks it up.
pub const SEEN_CHECK_AFTER: Duration = Duration::from_secs(3);
/// How long a posted prompt may stay absent from the session before it is
/// posted again (with the same id: it is not there, so nothing doubles).
pub const LOST_AFTER: Duration = Duration::from_secs(30);

/// What to do with the next queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Post it as a prompt.
    Post,
    /// Keep it queued, for `cause` (said as `reason`).
    Wait {
        cause: DeliveryReason,
        reason: &'static str,
    },
}

/// The delivery policy (pure): `busy` is the session's status (`None`
/// until known), `in_flight` whether an earlier prompt of abg's has not
/// finished its turn yet.
pub fn decide(busy: Option<bool>, in_flight: bool) -> Action {
    match (busy, in_flight) {
        (None, _) => Action::Wait {
            cause: DeliveryReason::TurnStateUnknown,
            reason: "waiting for OpenCode's session status",
        },
        (_, true) => Action::Wait {
            cause: DeliveryReason::BehindTurn,
            reason: "waiting for the previous prompt's turn to end",
        },
        (Some(true), false) => Action::Wait {
            cause: DeliveryReason::BehindTurn,
            reason: "waiting for OpenCode's running turn to end",
        },
        (Some(false), false) => Action::Post,
    }
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A message id in OpenCode's format (`msg_`, 12 hex digits of
/// `(ms·4096 + counter) mod 2^48`, 14 base62 characters), so it sorts
/// among the session's own ids by time; `random` supplies the suffix.
pub fn prompt_id(now_ms: i64, counter: u16, random: [u8; 14]) -> String {
    let ms = u64::try_from(now_ms).unwrap_or(0);
    let stamp = (ms
        .wrapping_mul(4096)
        .wrapping_add(u64::from(counter & 0x0fff)))
        & 0xffff_ffff_ffff;
    let suffix: String = random
        .iter()
        .map(|b| char::from(BASE62[usize::from(*b) % BASE62.len()]))
        .collect();
    format!("msg_{stamp:012x}{suffix}")
}

/// Setting naming the prompt id of message `id` (written before the POST).
pub fn prompt_key(id: &str) -> String {
    format!("opencode.prompt.{id}")
}

/// Setting naming the message a prompt id delivered (for attribution).
pub fn origin_key(prompt: &str) -> String {
    format!("opencode.origin.{prompt}")
}

impl Link {
    /// Deliver the next queued message, if it may go now.
    pub(super) async fn pump(&mut self) -> Result<(), LinkError> {
        if self.retry_after.is_some_and(|t| Instant::now() < t) {
            return Ok(());
        }
        self.retry_after = None;
        let pending = self.core.with_store(|s| {
            s.pending_in_states(
                super::PEER,
                &[DeliveryState::Queued, DeliveryState::Held],
                1000,
            )
        })?;
        let pending = crate::budget::gate::gate(&self.core, super::PEER, pending);
        let governor_held = |p: &Pending| p.delivery.hold() == Some(DeliveryReason::GovernorHold);
        let Some(next) = pending.into_iter().find(|p| !governor_held(p)) else {
            return Ok(());
        };
        if next.delivery.state == DeliveryState::Held {
            return Ok(());
        }
        let id = next.message.id.clone();
        match decide(self.busy, self.in_flight.is_some()) {
            Action::Wait { cause, reason } => {
                if next.delivery.reason != Some(cause) {
                    self.core.transition(
                        &id,
                        super::PEER,
                        DeliveryState::Queued,
                        Note::new(cause, reason),
                        None,
                    )?;
                }
                Ok(())
            }
            Action::Post => self.post(&next.message).await,
        }
    }

    async fn post(&mut self, m: &Message) -> Result<(), LinkError> {
        let key = prompt_key(&m.id);
        let known: Option<String> = self.core.with_store(|s| s.get_setting(&key))?;
        if let Some(prompt) = &known
            && self.api.message_exists(&self.sid, prompt).await?
        {
            // Posted before a crash or a lost answer: it is in the session.
            self.in_flight = Some(InFlight::posted(&m.id, prompt));
            return self.mark_seen(
                DeliveryReason::TurnFound,
                "found in the session after a restart",
            );
        }
        let prompt = known.unwrap_or_else(|| {
            self.counter = self.counter.wrapping_add(1);
            prompt_id(crate::clock::now_ms(), self.counter, rand::random())
        });
        self.core.with_store(|s| -> Result<(), LinkError> {
            s.set_setting(&key, &prompt)?;
            s.set_setting(&origin_key(&prompt), &m.id)?;
            Ok(())
        })?;
        self.core.transition(
            &m.id,
            super::PEER,
            DeliveryState::Queued,
            Note::new(DeliveryReason::Starting, "posting the prompt"),
            None,
        )?;
        let name = self.core.peer(m.from).map(|p| p.name);
        match self
            .api
            .prompt(&self.sid, &prompt, &prompt_text(m, name))
            .await
        {
            Ok(()) => {
                tracing::info!(message = %m.id, %prompt, "prompt posted to opencode");
                self.in_flight = Some(InFlight::posted(&m.id, &prompt));
                Ok(())
            }
            Err(e) => {
                tracing::warn!(message = %m.id, "opencode refused the prompt: {e}");
                self.core.transition(
                    &m.id,
                    super::PEER,
                    DeliveryState::Queued,
                    Note::new(DeliveryReason::StartRefused, &e.to_string()),
                    None,
                )?;
                self.retry_after = Some(Instant::now() + Duration::from_secs(2));
                Ok(())
            }
        }
    }

    /// The in-flight prompt is in the session: its delivery has started.
    pub(super) fn mark_seen(&mut self, why: DeliveryReason, detail: &str) -> Result<(), LinkError> {
        let Some(f) = self.in_flight.as_mut().filter(|f| !f.seen) else {
            return Ok(());
        };
        f.seen = true;
        let (id, prompt) = (f.message_id.clone(), f.prompt_id.clone());
        self.core.transition(
            &id,
            super::PEER,
            DeliveryState::Started,
            Note::new(why, detail),
            Some(&prompt),
        )?;
        Ok(())
    }

    /// The fallback when no event said so: look the in-flight prompt up.
    pub(super) async fn check_in_flight(&mut self) -> Result<(), LinkError> {
        let Some(f) = self.in_flight.clone().filter(|f| !f.seen) else {
            return Ok(());
        };
        if f.posted.elapsed() < SEEN_CHECK_AFTER {
            return Ok(());
        }
        if self.api.message_exists(&self.sid, &f.prompt_id).await? {
            return self.mark_seen(
                DeliveryReason::TurnStarted,
                "seen in the session's messages",
            );
        }
        if f.posted.elapsed() >= LOST_AFTER {
            tracing::warn!(message = %f.message_id, prompt = %f.prompt_id, "prompt never reached the session; posting it again");
            self.in_flight = None;
            self.core.transition(
                &f.message_id,
                super::PEER,
                DeliveryState::Queued,
                Note::new(
                    DeliveryReason::StartRefused,
                    "the prompt never reached the session",
                ),
                None,
            )?;
        }
        Ok(())
    }
}
