//! Plain data types of the durable store: who talks, what a message is, where its delivery
//! stands. Kept free of SQL so the bus, the control protocol and the web UI can share them
//! (serde) without depending on how they are persisted.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use super::meaning::{DeliveryModel, DeliveryReason, DeliveryState, Note};
pub use super::peer_id::PeerId;

/// How Codex should take a message that arrives while it is busy (see issue 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnBusy {
    Queue,
    Steer,
    Interrupt,
}

impl OnBusy {
    pub fn as_str(self) -> &'static str {
        match self {
            OnBusy::Queue => "queue",
            OnBusy::Steer => "steer",
            OnBusy::Interrupt => "interrupt",
        }
    }
}

/// `Chat` is conversation; `Notice` is something abg says (governor pause, budget hand-off)
/// that must never be relayed back across.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    #[default]
    Chat,
    Notice,
}

impl MessageKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MessageKind::Chat => "chat",
            MessageKind::Notice => "notice",
        }
    }
}

/// Error for parsing one of the store's enums from its string form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?}")]
pub struct ParseEnumError {
    pub what: &'static str,
    pub value: String,
}

macro_rules! string_enum {
    ($ty:ty, $what:literal, $all:expr) => {
        impl FromStr for $ty {
            type Err = ParseEnumError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $all.into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| ParseEnumError {
                        what: $what,
                        value: s.to_owned(),
                    })
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(DeliveryState, "delivery state", DeliveryState::ALL);
string_enum!(DeliveryModel, "delivery model", DeliveryModel::ALL);
string_enum!(DeliveryReason, "delivery reason", DeliveryReason::ALL);
string_enum!(
    OnBusy,
    "on-busy policy",
    [OnBusy::Queue, OnBusy::Steer, OnBusy::Interrupt]
);
string_enum!(
    MessageKind,
    "message kind",
    [MessageKind::Chat, MessageKind::Notice]
);

/// A message to be stored. Build with [`NewMessage::new`] and struct update syntax:
/// `NewMessage { idempotency_key: Some(k), ..NewMessage::new(from, to, body) }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewMessage {
    pub from: PeerId,
    pub to: PeerId,
    pub body: String,
    pub kind: MessageKind,
    pub thread_id: Option<String>,
    pub turn_id: Option<String>,
    /// Id of the item this message came from (a Codex `agentMessage` item id): unique per
    /// sender, so ingesting the same item twice yields the first message.
    pub source_item_id: Option<String>,
    pub in_reply_to: Option<String>,
    /// Caller-chosen key, unique per sender: a retried send yields the first message.
    pub idempotency_key: Option<String>,
    pub on_busy: Option<OnBusy>,
    /// Free-form JSON; `null` when unused.
    pub meta: serde_json::Value,
    /// Creation time (ms since the Unix epoch); `None` means now.
    pub created_ms: Option<i64>,
}

impl NewMessage {
    pub fn new(from: PeerId, to: PeerId, body: impl Into<String>) -> Self {
        NewMessage {
            from,
            to,
            body: body.into(),
            kind: MessageKind::Chat,
            thread_id: None,
            turn_id: None,
            source_item_id: None,
            in_reply_to: None,
            idempotency_key: None,
            on_busy: None,
            meta: serde_json::Value::Null,
            created_ms: None,
        }
    }
}

/// A stored message. `seq` orders the transcript; `id` (`m_<16 hex>`) names it everywhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub seq: i64,
    pub id: String,
    pub from: PeerId,
    pub to: PeerId,
    pub body: String,
    pub kind: MessageKind,
    pub created_ms: i64,
    pub thread_id: Option<String>,
    pub turn_id: Option<String>,
    pub source_item_id: Option<String>,
    pub in_reply_to: Option<String>,
    pub idempotency_key: Option<String>,
    pub on_busy: Option<OnBusy>,
    pub meta: serde_json::Value,
}

/// Result of an insert: a new message, or the one already stored under the same
/// idempotency key or source item id (nothing was written then).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "message", rename_all = "lowercase")]
pub enum Inserted {
    New(Message),
    Duplicate(Message),
}

impl Inserted {
    pub fn is_new(&self) -> bool {
        matches!(self, Inserted::New(_))
    }

    pub fn message(&self) -> &Message {
        match self {
            Inserted::New(m) | Inserted::Duplicate(m) => m,
        }
    }

    pub fn into_message(self) -> Message {
        match self {
            Inserted::New(m) | Inserted::Duplicate(m) => m,
        }
    }
}

/// The current delivery state of one message for one recipient.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub message_id: String,
    pub recipient: PeerId,
    pub state: DeliveryState,
    /// Why it is in this state (see [`DeliveryReason`]); `detail` says it for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DeliveryReason>,
    pub detail: Option<String>,
    /// The Codex turn the message became (or was steered into); kept across later
    /// transitions that do not name a turn.
    pub turn_id: Option<String>,
    pub attempts: u32,
    pub updated_ms: i64,
}

impl Delivery {
    /// Why the delivery is held, when it is.
    pub fn hold(&self) -> Option<DeliveryReason> {
        if self.state == DeliveryState::Held {
            self.reason
        } else {
            None
        }
    }

    /// Whether the last transition recorded exactly `note` (a repeat would change nothing
    /// but the history).
    pub fn has_note(&self, note: &Note<'_>) -> bool {
        self.reason == note.reason && self.detail.as_deref() == note.detail
    }
}

/// Outcome of a state change. `changed` is false for an idempotent repeat of a terminal
/// state (acknowledging twice), which writes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transitioned {
    pub previous: DeliveryState,
    pub delivery: Delivery,
    pub changed: bool,
}

/// One row of the append-only delivery history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryLogEntry {
    pub seq: i64,
    pub message_id: String,
    pub recipient: PeerId,
    pub state: DeliveryState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<DeliveryReason>,
    pub detail: Option<String>,
    pub ts_ms: i64,
}

/// A message that still has to reach `delivery.recipient`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    pub message: Message,
    pub delivery: Delivery,
}

/// A pair event (turn boundaries, commands Codex ran, governor and budget decisions, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub seq: i64,
    pub ts_ms: i64,
    pub kind: String,
    pub data: serde_json::Value,
}

/// A marker that a one-shot action (e.g. a budget resume prompt) has been taken.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tombstone {
    pub key: String,
    pub created_ms: i64,
    pub data: serde_json::Value,
}

/// Delivery counts for one recipient.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecipientStats {
    pub total: u64,
    /// Deliveries not yet in a terminal state.
    pub pending: u64,
    pub by_state: std::collections::BTreeMap<DeliveryState, u64>,
}

/// Store-wide counters for `abg status` and the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub messages: u64,
    pub events: u64,
    /// Highest message seq (0 when empty): the transcript's catch-up cursor.
    pub last_message_seq: i64,
    pub last_event_seq: i64,
    pub by_state: std::collections::BTreeMap<DeliveryState, u64>,
    pub by_recipient: std::collections::BTreeMap<PeerId, RecipientStats>,
}

// ---- Approvals (schema V5): what an agent asks the human to allow. ----

/// What an approval request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalKind {
    /// Run a command.
    Command,
    /// Change files.
    FileChange,
    /// Widen the agent's permissions (sandbox, network, directories).
    Permissions,
    /// Call a tool.
    Tool,
    /// Answer a question the agent put.
    UserInput,
    /// Fill in a form a tool server asked for.
    Elicitation,
    /// Anything this build does not know.
    Unknown,
}

impl ApprovalKind {
    pub const ALL: [ApprovalKind; 7] = [
        ApprovalKind::Command,
        ApprovalKind::FileChange,
        ApprovalKind::Permissions,
        ApprovalKind::Tool,
        ApprovalKind::UserInput,
        ApprovalKind::Elicitation,
        ApprovalKind::Unknown,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalKind::Command => "command",
            ApprovalKind::FileChange => "file_change",
            ApprovalKind::Permissions => "permissions",
            ApprovalKind::Tool => "tool",
            ApprovalKind::UserInput => "user_input",
            ApprovalKind::Elicitation => "elicitation",
            ApprovalKind::Unknown => "unknown",
        }
    }
}

/// Where an approval stands. Only `pending` moves; every other state is final
/// (except that a verdict abg could not hand to the agent becomes `abandoned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalState {
    /// Waiting for an answer.
    Pending,
    /// Allowed through abg.
    Approved,
    /// Refused through abg.
    Denied,
    /// Answered in the agent's own UI (or the agent withdrew it).
    AnsweredElsewhere,
    /// Its time ran out.
    Expired,
    /// abg could not hand the verdict to the agent: nothing was allowed.
    Abandoned,
}

impl ApprovalState {
    pub const ALL: [ApprovalState; 6] = [
        ApprovalState::Pending,
        ApprovalState::Approved,
        ApprovalState::Denied,
        ApprovalState::AnsweredElsewhere,
        ApprovalState::Expired,
        ApprovalState::Abandoned,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Pending => "pending",
            ApprovalState::Approved => "approved",
            ApprovalState::Denied => "denied",
            ApprovalState::AnsweredElsewhere => "answered_elsewhere",
            ApprovalState::Expired => "expired",
            ApprovalState::Abandoned => "abandoned",
        }
    }
}

/// Through what an approval was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnsweredVia {
    /// `abg approve` / `abg deny`.
    Cli,
    /// The web UI.
    Web,
    /// The agent's own terminal UI.
    Tui,
    /// The agent itself (it withdrew or timed out the request).
    Agent,
}

impl AnsweredVia {
    pub const ALL: [AnsweredVia; 4] = [
        AnsweredVia::Cli,
        AnsweredVia::Web,
        AnsweredVia::Tui,
        AnsweredVia::Agent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AnsweredVia::Cli => "cli",
            AnsweredVia::Web => "web",
            AnsweredVia::Tui => "tui",
            AnsweredVia::Agent => "agent",
        }
    }
}

string_enum!(ApprovalKind, "approval kind", ApprovalKind::ALL);
string_enum!(ApprovalState, "approval state", ApprovalState::ALL);
string_enum!(AnsweredVia, "answered-via", AnsweredVia::ALL);

/// An approval request as an adapter records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewApproval {
    pub peer: PeerId,
    /// The agent's own id for the request (a JSON-RPC id and thread, …):
    /// unique per peer, so a replayed request yields the first row.
    pub request_key: String,
    pub kind: ApprovalKind,
    /// What is asked (command, cwd, reason, diff, tool, input preview, …).
    pub detail: serde_json::Value,
    /// The decisions the agent offers, by abg's names (`approve`,
    /// `approve_for_session`, `deny`); `None`: approve and deny.
    pub options: Option<Vec<String>>,
    pub expires_ms: Option<i64>,
}

/// A stored approval request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// `a_` and a time-sortable hex id.
    pub id: String,
    pub peer: PeerId,
    pub request_key: String,
    pub kind: ApprovalKind,
    pub detail: serde_json::Value,
    pub options: Option<Vec<String>>,
    pub state: ApprovalState,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub answered_ms: Option<i64>,
    /// Who answered (`human`), when abg knows.
    pub answered_by: Option<String>,
    pub answered_via: Option<AnsweredVia>,
    /// The verdict as stored (`{"decision": …, "reason": …}`, plus `error`
    /// when it could not be handed to the agent).
    pub decision: Option<serde_json::Value>,
}

impl Approval {
    /// "approved via cli by human at 1700000000000": how it was answered.
    pub fn answered_text(&self) -> String {
        let mut text = self.state.as_str().to_owned();
        if let Some(via) = self.answered_via {
            text.push_str(&format!(" via {via}"));
        }
        if let Some(by) = &self.answered_by {
            text.push_str(&format!(" by {by}"));
        }
        if let Some(ms) = self.answered_ms {
            text.push_str(&format!(" at {ms} ms"));
        }
        text
    }
}
