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
//! The budget routes' bodies are in [`budget`].

use serde::{Deserialize, Serialize};

pub use crate::store::types::{Agent, OnBusy};

pub mod budget;

/// Version of this protocol; bumped on any incompatible change.
pub const PROTOCOL_VERSION: u32 = 1;
/// Header carrying the client's protocol version on HTTP requests.
pub const PROTOCOL_HEADER: &str = "abg-protocol";
/// Largest message body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The longest a send waits for its delivery outcome: `wait_ms` of a
/// `send` frame and of `POST /v1/messages?wait_ms=N` is cut to this.
pub const MAX_SEND_WAIT_MS: u64 = 60_000;

/// Who speaks on a control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A one-shot CLI call (`abg status`, `abg send`, …).
    Cli,
    /// The Claude side (`abg mcp`, hooks) — counts as an attached agent.
    Claude,
    /// The Codex side (`abg codex`) — counts as an attached agent.
    Codex,
    /// A web UI session.
    Ui,
}

impl Role {
    /// Whether this connection keeps the daemon from idling out.
    pub fn is_agent(self) -> bool {
        matches!(self, Role::Claude | Role::Codex)
    }
}

/// A message handed to the daemon for delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    pub from: Agent,
    pub to: Agent,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_busy: Option<OnBusy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl SendRequest {
    /// Check the request; the error text says what to change.
    pub fn validate(&self, max_body: usize) -> Result<(), String> {
        if self.from == self.to {
            return Err("`from` and `to` must differ".into());
        }
        if !self.to.is_recipient() {
            return Err("`to` must be \"claude\" or \"codex\"".into());
        }
        if self.from == Agent::Abg {
            return Err("`from` must be \"claude\", \"codex\" or \"human\"".into());
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
        if self.on_busy.is_some() && self.to != Agent::Codex {
            return Err("`on_busy` applies only to messages for codex".into());
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

/// Lifecycle phase of a daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Booting,
    Ready,
    Stopping,
}

/// Health and identity of a running daemon.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonStatus {
    pub pair_id: String,
    pub pair_name: String,
    pub root: String,
    pub state_dir: String,
    pub pid: u32,
    pub version: String,
    pub protocol: u32,
    pub phase: Phase,
    pub started_ms: i64,
    pub uptime_ms: i64,
    pub control_port: u16,
    pub app_port: u16,
    pub attached: Attached,
    pub queues: Queues,
    pub idle_shutdown_minutes: u64,
    pub config: serde_json::Value,
    /// Why the loop governor paused the agent-to-agent relay, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay_paused: Option<String>,
    /// The daemon's view of Codex (absent until its app-server is connected).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codex: Option<CodexView>,
    /// Undelivered messages with their delivery state, oldest first (at most 20).
    #[serde(default)]
    pub pending: Vec<PendingView>,
}

/// Codex's thread and turn as the daemon sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodexView {
    pub thread_id: Option<String>,
    /// `unknown`, `idle`, `busy` or `stalled` (silent past `codex.turn_stall_secs`).
    pub turn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
}

/// One undelivered message in `abg status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingView {
    pub id: String,
    pub from: String,
    pub to: String,
    pub state: String,
    /// Why it is in that state (a `DeliveryReason` name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub age_ms: i64,
}

/// Which agents have a live control connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Attached {
    pub claude: bool,
    pub codex: bool,
}

/// Undelivered messages per recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Queues {
    pub to_claude: u64,
    pub to_codex: u64,
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
    /// A request of the Claude side (`abg mcp`, `abg hook`, `abg claude`).
    Claude {
        id: u64,
        request: ClaudeRequest,
    },
}

/// A message for Claude, as the daemon hands it to `abg mcp` to push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerMessage {
    pub id: String,
    pub from: Agent,
    pub body: String,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thread_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

/// What a Claude Code hook reports (a subset of its stdin JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookReport {
    /// `SessionStart`, `UserPromptSubmit`, `Stop` or `PostToolUse`.
    pub event: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transcript_path: Option<String>,
    #[serde(default)]
    pub stop_hook_active: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    /// Message ids named (`msg_id="…"`) in a UserPromptSubmit prompt: a
    /// channel push starting this turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prompt_ids: Vec<String>,
    /// A UserPromptSubmit whose prompt the human typed (not a channel push,
    /// not abg's doorbell): it counts as human input for the loop governor.
    #[serde(default)]
    pub human_prompt: bool,
}

/// The daemon's answer to a hook: at most one of these is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct HookReply {
    /// Stop hook: keep Claude going with this reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_reason: Option<String>,
    /// Facts added to Claude's context (SessionStart, UserPromptSubmit, PostToolUse).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_context: Option<String>,
}

/// Requests of the Claude side on the control WebSocket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClaudeRequest {
    /// `abg mcp` wrote these messages to Claude as channel notifications.
    Pushed { ids: Vec<String> },
    /// Claude acknowledged these messages (`get_messages(ack)`, `reply(in_reply_to)`).
    Ack { ids: Vec<String> },
    /// Unacknowledged messages for Claude (pull path); `ack` acknowledges the returned ones.
    FetchUnread {
        #[serde(default)]
        ack: bool,
    },
    /// A Claude Code hook fired.
    Hook { report: HookReport },
    /// `abg claude` asks whether to ring the PTY doorbell now.
    Doorbell,
    /// `abg claude` typed the doorbell for these messages.
    Rang { ids: Vec<String> },
    /// `abg claude` read the channel registration from Claude's debug log.
    Channel {
        registered: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// Answers to [`ClaudeRequest`]s.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ClaudeAnswer {
    /// Done; `unread` messages for Claude are still unacknowledged.
    Done { unread: u64 },
    /// The unacknowledged messages, oldest first.
    Unread {
        messages: Vec<PeerMessage>,
        unread: u64,
    },
    /// What the hook should output.
    Hook { reply: HookReply, unread: u64 },
    /// Ring the doorbell for these messages (empty: don't); `from` names
    /// their senders for the text typed into Claude's prompt.
    Doorbell {
        ids: Vec<String>,
        #[serde(default)]
        from: Vec<Agent>,
    },
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
    /// Answer to [`ClientFrame::Claude`].
    Claude {
        id: u64,
        answer: ClaudeAnswer,
    },
    /// A message for Claude, sent unasked to the attached `abg mcp`.
    Deliver {
        message: Box<PeerMessage>,
    },
    Error {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<u64>,
        code: ErrorCode,
        message: String,
    },
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

    fn req(to: Agent, body: &str) -> SendRequest {
        SendRequest {
            from: Agent::Human,
            to,
            body: body.into(),
            on_busy: None,
            in_reply_to: None,
            idempotency_key: None,
        }
    }

    #[test]
    fn send_requests_are_validated() {
        assert!(req(Agent::Codex, "hi").validate(10).is_ok());
        assert!(req(Agent::Human, "hi").validate(10).is_err());
        assert!(req(Agent::Codex, "  ").validate(10).is_err());
        let long = req(Agent::Codex, "0123456789x")
            .validate(10)
            .expect_err("long");
        assert!(long.contains("over the limit"), "{long}");
        let mut steer = req(Agent::Claude, "hi");
        steer.on_busy = Some(OnBusy::Steer);
        assert!(steer.validate(10).is_err());
    }

    #[test]
    fn frames_round_trip_and_reject_unknown_fields() {
        let f: ClientFrame =
            serde_json::from_str(r#"{"type":"hello","protocol":1,"version":"0.1.0","role":"cli"}"#)
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
