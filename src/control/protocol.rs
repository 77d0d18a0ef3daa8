//! Wire types of the control plane, kept apart from any transport.
//!
//! HTTP (all JSON, all but `/healthz` and the challenge need
//! `Authorization: ABG-Session …` (see [`super::handshake`]) and the
//! `abg-protocol` header):
//!
//! | method | path            | body → answer                         |
//! |--------|-----------------|---------------------------------------|
//! | GET    | `/healthz`      | → `ok` (content-free liveness probe)  |
//! | POST   | `/v1/auth/challenge` | `{client_nonce}` → `{server_nonce, proof}` |
//! | GET    | `/v1/status`    | → [`DaemonStatus`]                    |
//! | POST   | `/v1/messages[?wait_ms=N]` | [`SendRequest`] → [`SendResult`] (with `outcome` when waiting, at most [`MAX_SEND_WAIT_MS`]) |
//! | GET    | `/v1/messages?after=SEQ&limit=N` → [`MessagePage`]          |
//! | POST   | `/v1/shutdown`  | → [`Ack`]; the daemon then exits      |
//! | POST   | `/v1/relay/resume` | → `{ok, released}`: lift a governor pause |
//! | GET    | `/v1/approvals?state=pending\|all&limit=N` | → [`approvals::ApprovalList`] |
//! | POST   | `/v1/approvals/{id}` | [`approvals::AnswerRequest`] → [`approvals::AnswerResult`] (404 unknown id, 409 already answered) |
//! | GET    | `/v1/ws`        | WebSocket upgrade, frames below       |
//!
//! WebSocket: every frame is one JSON text message of at most
//! `control.max_frame_bytes`. The client's first frame must be
//! [`ClientFrame::Hello`] with this [`PROTOCOL_VERSION`]; the daemon answers
//! [`ServerFrame::Welcome`] or an [`ServerFrame::Error`] with code
//! `protocol_mismatch` and closes. Requests carry a client-chosen `id`
//! echoed in the answer. A malformed or oversized frame gets an `Error`
//! frame and the connection stays usable.
//!
//! The approvals inbox's bodies are in [`approvals`], the budget routes' in
//! [`budget`], `/v1/status`'s in `status`, the web UI's JSON API and
//! live-stream payloads in [`web`].

use serde::{Deserialize, Serialize};

pub use crate::store::types::{OnBusy, PeerId};

pub mod approvals;
pub mod budget;
mod status;
pub mod web;

pub use status::{Attached, DaemonStatus, PeerStatus, PendingView, Phase, Queues};

/// Version of this protocol; bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 2;
/// Header carrying the client's protocol version on HTTP requests.
pub const PROTOCOL_HEADER: &str = "abg-protocol";
/// Largest message body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The longest a send waits for its delivery outcome: `wait_ms` of a
/// `send` frame and of `POST /v1/messages?wait_ms=N` is cut to this.
pub const MAX_SEND_WAIT_MS: u64 = 60_000;

/// Who speaks on a control connection: on the wire `"cli"`, `"ui"`, or
/// the id of a peer (`"claude"`), which counts as attached while it is
/// connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// A one-shot CLI call (`abg status`, `abg send`, a hook, …).
    Cli,
    /// A web UI session.
    Ui,
    /// An agent's own connection (`abg mcp`, `abg codex`).
    Peer(PeerId),
}

impl Role {
    /// The peer this connection counts as attached, if any.
    pub fn peer(self) -> Option<PeerId> {
        match self {
            Role::Peer(a) => Some(a),
            Role::Cli | Role::Ui => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Cli => "cli",
            Role::Ui => "ui",
            Role::Peer(a) => a.as_str(),
        }
    }
}

impl Serialize for Role {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Role {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        match text.as_str() {
            "cli" => Ok(Role::Cli),
            "ui" => Ok(Role::Ui),
            other => other.parse::<PeerId>().map(Role::Peer).map_err(|_| {
                serde::de::Error::custom(format!(
                    "unknown role {other:?}: expected \"cli\", \"ui\" or a peer id"
                ))
            }),
        }
    }
}

/// A message handed to the daemon for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub from: PeerId,
    pub to: PeerId,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_busy: Option<OnBusy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl SendRequest {
    /// Check what can be checked without knowing the pair's peers (the
    /// core checks that `to` names one, and that `on_busy` is for a peer
    /// that takes it); the error text says what to change.
    pub fn validate(&self, max_body: usize) -> Result<(), String> {
        if self.from == self.to {
            return Err("`from` and `to` must differ".into());
        }
        if self.from == PeerId::ABG {
            return Err(
                "`from` must be a peer or \"human\"; \"abg\" is the daemon's own voice".into(),
            );
        }
        if self.body.trim().is_empty() {
            return Err("`body` is empty; send some text".into());
        }
        if self.body.len() > max_body {
            return Err(format!(
                "`body` is {} bytes, over the limit of {max_body}; shorten it or put it in a file and send the path",
                self.body.len()
            ));
        }
        if let Some(key) = &self.idempotency_key
            && !(1..=128).contains(&key.len())
        {
            return Err("`idempotency_key` must be 1 to 128 characters".into());
        }
        Ok(())
    }
}

/// The daemon's answer to a [`SendRequest`]: the message is on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendResult {
    pub message_id: String,
    pub seq: i64,
    /// True when an earlier message with the same idempotency key was found.
    pub duplicate: bool,
    /// Delivery state for the recipient right after storing.
    pub state: String,
    /// How delivery went, when the sender asked to wait for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// Stable result codes of a delivery, as the sender sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeCode {
    /// Became a new turn (Codex) or reached the agent (Claude).
    Delivered,
    /// Stored and waiting for the recipient's current turn to end.
    Queued,
    /// Steered into the running turn.
    Steered,
    /// The running turn was interrupted and the message started a new one.
    Interrupted,
    /// Held by the loop governor or the quota relay; delivered on resume.
    Held,
    /// Stored; delivery had not settled when the wait ended.
    Pending,
    /// Delivery failed; `reason` says why. The message stays stored.
    Failed,
}

/// A delivery result with the turn it became, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub code: OutcomeCode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// One stored message as the control plane shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageView {
    pub seq: i64,
    pub id: String,
    pub from: String,
    pub to: String,
    pub body: String,
    pub created_ms: i64,
    pub state: Option<String>,
}

/// A page of messages, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessagePage {
    pub messages: Vec<MessageView>,
}

/// Generic acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    pub ok: bool,
}

/// Frames a client sends on the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    Hello {
        protocol: u32,
        version: String,
        role: Role,
    },
    Status {
        id: u64,
    },
    Send {
        id: u64,
        message: SendRequest,
        /// Wait up to this long for the delivery outcome (see [`Outcome`]).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        wait_ms: Option<u64>,
    },
    Ping {
        id: u64,
    },
    /// A request of one peer's side (Claude's `abg mcp`, hooks and `abg
    /// claude`), answered by that peer's adapter; `request` is the
    /// adapter's own JSON.
    Peer {
        id: u64,
        peer: PeerId,
        request: serde_json::Value,
    },
}

/// A message for a peer, as the daemon hands it to the peer's attached
/// connection to push (Claude's `abg mcp`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerMessage {
    pub id: String,
    pub from: PeerId,
    pub body: String,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

/// Stable error codes of the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    BadFrame,
    TooLarge,
    ProtocolMismatch,
    HelloRequired,
    Unauthorized,
    Forbidden,
    InvalidArgument,
    /// The thing named (an approval id) does not exist.
    NotFound,
    /// The request lost to an earlier one (an approval already answered).
    Conflict,
    Internal,
}

/// Frames the daemon sends on the WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    Welcome {
        protocol: u32,
        version: String,
        pair_id: String,
    },
    Status {
        id: u64,
        status: Box<DaemonStatus>,
    },
    Sent {
        id: u64,
        result: SendResult,
    },
    Pong {
        id: u64,
    },
    /// Answer to [`ClientFrame::Peer`], in the peer adapter's own JSON.
    Peer {
        id: u64,
        answer: serde_json::Value,
    },
    /// A message for a peer, sent unasked to its attached connection.
    Deliver {
        message: Box<PeerMessage>,
    },
    /// Anything else a peer's adapter sends unasked to its attached
    /// connection (e.g. a human's answer to an approval), in the
    /// adapter's own JSON.
    Push {
        push: serde_json::Value,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        code: ErrorCode,
        message: String,
    },
}

/// Answer of `POST /v1/ui/login-token` (the web UI's one-time login).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginToken {
    pub token: String,
    /// Path (with the token) to open on the control port.
    pub path: String,
    pub expires_ms: i64,
}

/// JSON error body of HTTP answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorCode,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(to: PeerId, body: &str) -> SendRequest {
        SendRequest {
            from: PeerId::HUMAN,
            to,
            body: body.into(),
            on_busy: None,
            in_reply_to: None,
            idempotency_key: None,
        }
    }

    #[test]
    fn send_requests_are_validated() {
        assert!(req(PeerId::from_static("codex"), "hi").validate(10).is_ok());
        assert!(req(PeerId::HUMAN, "hi").validate(10).is_err());
        assert!(
            req(PeerId::from_static("codex"), "  ")
                .validate(10)
                .is_err()
        );
        let long = req(PeerId::from_static("codex"), "0123456789x")
            .validate(10)
            .expect_err("long");
        assert!(long.contains("over the limit"), "{long}");
        // `on_busy` for a peer that does not take it: see `daemon::send`.
    }

    #[test]
    fn frames_round_trip_and_reject_unknown_fields() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"hello","protocol":2,"version":"0.1.0","role":"cli"}"#)
                .expect("hello");
        assert!(matches!(
            f,
            ClientFrame::Hello {
                role: Role::Cli,
                ..
            }
        ));
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"status","id":1,"x":2}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"nope"}"#).is_err());
        let e = ServerFrame::Error {
            id: None,
            code: ErrorCode::BadFrame,
            message: "m".into(),
        };
        let text = serde_json::to_string(&e).expect("ser");
        assert_eq!(text, r#"{"type":"error","code":"bad_frame","message":"m"}"#);
    }
}
