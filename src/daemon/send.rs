//! How the daemon takes a send (validate, store, wait for the outcome) and
//! answers it, the transcript page of `GET /v1/messages`, and how any
//! [`CoreError`] becomes an
//! HTTP status and an [`ErrorCode`]: the one copy of each, for the CLI's
//! control socket and `POST /v1/messages` (`control::server`), `abg mcp`'s
//! session (`claude::link`) and every JSON error (`control::errors`).
//!
//! Why it exists: those paths used to cut `wait_ms` and map errors on
//! their own, and their caps had drifted apart (30 s and 60 s). Both live
//! here as methods of the core and its error, so `claude::link`, which
//! the core itself imports, calls them without importing another module
//! that imports the core.

use std::time::Duration;

use axum::http::StatusCode;

use tokio::sync::broadcast;

use super::core::{Core, CoreError};
use super::outcome::outcome_of;
use crate::control::protocol::{
    ErrorCode, MAX_SEND_WAIT_MS, MessagePage, MessageView, Outcome, OutcomeCode, SendRequest,
    SendResult, ServerFrame,
};
use crate::store::types::{DeliveryState, NewMessage};

impl CoreError {
    /// The status and code this error is answered with.
    pub fn status(&self) -> (StatusCode, ErrorCode) {
        match self {
            CoreError::Invalid(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument),
            CoreError::NotFound(_) => (StatusCode::NOT_FOUND, ErrorCode::NotFound),
            CoreError::Conflict(_) => (StatusCode::CONFLICT, ErrorCode::Conflict),
            CoreError::Undelivered(_) => (StatusCode::BAD_GATEWAY, ErrorCode::Internal),
            CoreError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        }
    }
}

/// How long a send asking for `wait_ms` waits for its outcome: no wait
/// when unset, never longer than [`MAX_SEND_WAIT_MS`].
pub fn wait_for(wait_ms: Option<u64>) -> Duration {
    Duration::from_millis(wait_ms.unwrap_or(0).min(MAX_SEND_WAIT_MS))
}

impl Core {
    /// Validate and store a message; it is on disk when this returns.
    pub fn send(&self, req: SendRequest) -> Result<SendResult, CoreError> {
        req.validate(self.max_frame_bytes())
            .map_err(CoreError::Invalid)?;
        let Some(to) = self.peer(req.to) else {
            return Err(CoreError::Invalid(format!(
                "`to` must name a peer of this pair ({}), not {:?}",
                self.peer_ids_text(),
                req.to.as_str()
            )));
        };
        if req.on_busy.is_some() && !to.takes_on_busy() {
            return Err(CoreError::Invalid(format!(
                "`on_busy` applies only to messages for a peer that runs turns; {} takes messages as they come",
                req.to.as_str()
            )));
        }
        let new = NewMessage {
            on_busy: req.on_busy,
            in_reply_to: req.in_reply_to,
            idempotency_key: req.idempotency_key,
            ..NewMessage::new(req.from, req.to, req.body)
        };
        let (message, fresh, state) = self.insert_stated(&new)?;
        let duplicate = !fresh;
        // A duplicate's state is whatever its delivery reached since.
        let state = match state {
            Some(s) => s.as_str().to_string(),
            None => self
                .with_store(|s| s.deliveries_for(&message.id))?
                .into_iter()
                .next()
                .map(|d| d.state.as_str().to_string())
                .unwrap_or_default(),
        };
        tracing::info!(id = %message.id, from = message.from.as_str(), to = message.to.as_str(), duplicate, "message stored");
        Ok(SendResult {
            message_id: message.id,
            seq: message.seq,
            duplicate,
            state,
            outcome: None,
        })
    }

    /// [`Core::send`], then wait up to `wait` (capped at a minute) for the
    /// delivery to settle; `outcome` says how it went (`pending` when the
    /// wait ended first). A zero `wait` returns at once without an outcome.
    pub async fn send_and_wait(
        &self,
        req: SendRequest,
        wait: std::time::Duration,
    ) -> Result<SendResult, CoreError> {
        let mut live = self.bus().subscribe();
        let mut result = self.send(req)?;
        if wait.is_zero() {
            return Ok(result);
        }
        // The store woke the recipient's link on this worker: let it deliver
        // before this task looks at the outcome.
        tokio::task::yield_now().await;
        let end = tokio::time::Instant::now()
            + wait.min(std::time::Duration::from_millis(MAX_SEND_WAIT_MS));
        loop {
            let log = self.with_store(|s| s.delivery_log(&result.message_id))?;
            if let Some(mut outcome) = outcome_of(&log) {
                outcome.turn_id = self.turn_of(&result.message_id);
                result.outcome = Some(outcome);
                return Ok(result);
            }
            // Any change may be ours; a lagged receiver just looks again.
            match tokio::time::timeout_at(end, live.recv()).await {
                Err(_) => break,
                Ok(Err(broadcast::error::RecvError::Closed)) => break,
                Ok(_) => {}
            }
        }
        let log = self.with_store(|s| s.delivery_log(&result.message_id))?;
        let last = log.last();
        let turn_id = self.turn_of(&result.message_id);
        result.outcome = Some(outcome_of(&log).unwrap_or(Outcome {
            code: if last.is_some_and(|e| e.state == DeliveryState::Queued && e.detail.is_some()) {
                OutcomeCode::Queued
            } else {
                OutcomeCode::Pending
            },
            turn_id: None,
            reason: last.and_then(|e| e.detail.clone()),
        }));
        if let Some(o) = result.outcome.as_mut() {
            o.turn_id = turn_id;
        }
        Ok(result)
    }

    /// The Codex turn a message became, if any.
    fn turn_of(&self, message_id: &str) -> Option<String> {
        self.with_store(|s| s.deliveries_for(message_id))
            .ok()?
            .into_iter()
            .find_map(|d| d.turn_id)
    }

    /// Messages after `after` (by seq), oldest first.
    pub fn messages_after(&self, after: i64, limit: u32) -> Result<MessagePage, CoreError> {
        let limit = usize::try_from(limit).unwrap_or(100);
        let rows = self.with_store(|s| s.messages_after(after, limit))?;
        let mut messages = Vec::with_capacity(rows.len());
        for m in rows {
            let state = self
                .with_store(|s| s.deliveries_for(&m.id))?
                .into_iter()
                .next()
                .map(|d| d.state.as_str().to_string());
            messages.push(MessageView {
                seq: m.seq,
                id: m.id,
                from: m.from.as_str().to_string(),
                to: m.to.as_str().to_string(),
                body: m.body,
                created_ms: m.created_ms,
                state,
            });
        }
        Ok(MessagePage { messages })
    }

    /// Store `message`, wait for its outcome as [`wait_for`] says, and
    /// answer the `send` frame `id`.
    pub async fn answer_send(
        &self,
        id: u64,
        message: SendRequest,
        wait_ms: Option<u64>,
    ) -> ServerFrame {
        match self.send_and_wait(message, wait_for(wait_ms)).await {
            Ok(result) => ServerFrame::Sent { id, result },
            Err(e) => ServerFrame::Error {
                id: Some(id),
                code: e.status().1,
                message: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::types::OnBusy;
    use crate::store::types::PeerId;

    #[test]
    fn a_wait_is_cut_to_the_protocol_cap_and_no_shorter() {
        let cap = Duration::from_millis(MAX_SEND_WAIT_MS);
        assert_eq!(wait_for(None), Duration::ZERO);
        assert_eq!(wait_for(Some(1_500)), Duration::from_millis(1_500));
        // Above the 30 s `abg mcp`'s session used to cut to.
        assert_eq!(wait_for(Some(45_000)), Duration::from_secs(45));
        assert_eq!(wait_for(Some(MAX_SEND_WAIT_MS)), cap);
        assert_eq!(wait_for(Some(MAX_SEND_WAIT_MS + 1)), cap);
        assert_eq!(wait_for(Some(u64::MAX)), cap);
    }

    #[tokio::test]
    async fn a_refused_send_answers_its_id_with_the_core_error_code() {
        let dir = tempfile::tempdir().expect("tempdir");
        let core = crate::peers::test_core(dir.path());
        let to_self = SendRequest {
            from: PeerId::from_static("claude"),
            to: PeerId::from_static("claude"),
            body: "hi".into(),
            on_busy: None,
            in_reply_to: None,
            idempotency_key: None,
        };
        match core.answer_send(7, to_self, Some(u64::MAX)).await {
            ServerFrame::Error { id, code, message } => {
                assert_eq!(id, Some(7));
                assert_eq!(code, ErrorCode::InvalidArgument);
                assert!(!message.is_empty());
            }
            other => panic!("expected an error frame, got {other:?}"),
        }
    }

    #[test]
    fn sends_name_a_registered_peer_and_on_busy_only_a_peer_that_runs_turns() {
        let dir = tempfile::tempdir().expect("tempdir");
        let core = crate::peers::test_core(dir.path());
        let req = |to: &str, on_busy| SendRequest {
            from: PeerId::HUMAN,
            to: to.parse().expect("id"),
            body: "hi".into(),
            on_busy,
            in_reply_to: None,
            idempotency_key: None,
        };
        assert!(core.send(req("codex", Some(OnBusy::Steer))).is_ok());
        // Claude takes messages pushed, not as turns: no on_busy for it.
        let steer = core
            .send(req("claude", Some(OnBusy::Steer)))
            .expect_err("on_busy for a push peer");
        assert!(steer.to_string().contains("on_busy"), "{steer}");
        let nobody = core
            .send(req("nobody", None))
            .expect_err("a peer the pair does not have");
        assert!(
            nobody.to_string().contains("\"claude\", \"codex\""),
            "{nobody}"
        );
    }
}
