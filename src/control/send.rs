//! The one answer to a send: a `send` frame on the control socket (a CLI
//! session in `server`, `abg mcp`'s session in `claude::link`) and
//! `POST /v1/messages?wait_ms=N`.
//!
//! Why it exists: the paths used to each cut `wait_ms` and map a failure
//! to an error code on their own, and their caps had drifted apart (30 s
//! and 60 s). Here both are done once, with the protocol's
//! [`MAX_SEND_WAIT_MS`].

use std::time::Duration;

use super::errors::core_status;
use super::protocol::{MAX_SEND_WAIT_MS, SendRequest, ServerFrame};
use crate::daemon::core::Core;

/// How long a send asking for `wait_ms` waits for its outcome: no wait
/// when unset, never longer than [`MAX_SEND_WAIT_MS`].
pub fn wait_for(wait_ms: Option<u64>) -> Duration {
    Duration::from_millis(wait_ms.unwrap_or(0).min(MAX_SEND_WAIT_MS))
}

/// Store `message`, wait for its outcome as [`wait_for`] says, and answer
/// the `send` frame `id`.
pub async fn answer(
    core: &Core,
    id: u64,
    message: SendRequest,
    wait_ms: Option<u64>,
) -> ServerFrame {
    match core.send_and_wait(message, wait_for(wait_ms)).await {
        Ok(result) => ServerFrame::Sent { id, result },
        Err(e) => ServerFrame::Error {
            id: Some(id),
            code: core_status(&e).1,
            message: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::protocol::ErrorCode;
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
        let core = crate::daemon::test_support::core_in(dir.path());
        let to_self = SendRequest {
            from: Agent::Claude,
            to: Agent::Claude,
            body: "hi".into(),
            on_busy: None,
            in_reply_to: None,
            idempotency_key: None,
        };
        match answer(&core, 7, to_self, Some(u64::MAX)).await {
            ServerFrame::Error { id, code, message } => {
                assert_eq!(id, Some(7));
                assert_eq!(code, ErrorCode::InvalidArgument);
                assert!(!message.is_empty());
            }
            other => panic!("expected an error frame, got {other:?}"),
        }
    }
}
