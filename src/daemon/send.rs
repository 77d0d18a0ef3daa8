//! How the daemon answers a send, and how any [`CoreError`] becomes an
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

use super::core::{Core, CoreError};
use crate::control::protocol::{ErrorCode, MAX_SEND_WAIT_MS, SendRequest, ServerFrame};

impl CoreError {
    /// The status and code this error is answered with.
    pub fn status(&self) -> (StatusCode, ErrorCode) {
        match self {
            CoreError::Invalid(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument),
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
    use crate::store::types::Agent;

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
        let core = super::super::test_support::core_in(dir.path());
        let to_self = SendRequest {
            from: Agent::Claude,
            to: Agent::Claude,
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
}
