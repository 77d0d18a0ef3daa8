//! The typed subset of Codex's app-server protocol (0.169.0) that abg uses.
//!
//! Why it exists: the daemon is a second client of the app-server the TUI
//! runs on, and every decision it takes (which thread, is a turn running,
//! what did Codex say) rests on these frames. Keeping the types here, apart
//! from any transport, lets them be tested against recorded traffic. Every
//! type tolerates unknown fields; unknown methods and item kinds map to an
//! `Other`/`Unknown` case so a newer Codex never breaks parsing. The
//! method names, each paired with these types, are one table in
//! [`methods`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub mod methods;

use methods::OPT_OUT_NOTIFICATIONS;

/// One frame the server sent, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// The answer to one of our requests.
    Response {
        id: Value,
        result: Result<Value, RpcError>,
    },
    /// A notification (`method` without `id`).
    Notification { method: String, params: Value },
    /// A request from the server (approvals, …): never ours to answer.
    ServerRequest {
        id: Value,
        method: String,
        params: Value,
    },
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message} (code {code})")]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(default)]
    id: Option<Value>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    params: Option<Value>,
    #[serde(default)]
    result: Option<Value>,
    #[serde(default)]
    error: Option<RpcError>,
}

/// Classify one text frame; `None` when it is not a JSON-RPC object.
pub fn parse_incoming(text: &str) -> Option<Incoming> {
    let raw: RawFrame = serde_json::from_str(text).ok()?;
    match (raw.id, raw.method) {
        (Some(id), Some(method)) => Some(Incoming::ServerRequest {
            id,
            method,
            params: raw.params.unwrap_or(Value::Null),
        }),
        (None, Some(method)) => Some(Incoming::Notification {
            method,
            params: raw.params.unwrap_or(Value::Null),
        }),
        (Some(id), None) => Some(Incoming::Response {
            id,
            result: match raw.error {
                Some(e) => Err(e),
                None => Ok(raw.result.unwrap_or(Value::Null)),
            },
        }),
        (None, None) => None,
    }
}

/// A client request on the wire (abg never sends `"jsonrpc"`).
#[derive(Debug, Serialize)]
pub struct OutgoingRequest<'a, P: Serialize> {
    pub id: i64,
    pub method: &'a str,
    pub params: P,
}

/// `initialize` params.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeParams {
    pub client_info: ClientInfo,
    pub capabilities: Capabilities,
}

#[derive(Debug, Serialize)]
pub struct ClientInfo {
    pub name: String,
    pub title: String,
    pub version: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub experimental_api: bool,
    pub opt_out_notification_methods: Vec<String>,
}

impl InitializeParams {
    /// abg's stable client identity.
    pub fn abg() -> Self {
        Self {
            client_info: ClientInfo {
                name: "abg".into(),
                title: "abg bridge".into(),
                version: crate::version().into(),
            },
            capabilities: Capabilities {
                experimental_api: true,
                opt_out_notification_methods: OPT_OUT_NOTIFICATIONS
                    .iter()
                    .map(|s| (*s).to_string())
                    .collect(),
            },
        }
    }
}

/// `initialize` result.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitializeResult {
    #[serde(default)]
    pub user_agent: String,
    #[serde(default)]
    pub codex_home: Option<String>,
}

/// One user input element (only text is used).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum UserInput {
    Text {
        text: String,
        #[serde(default)]
        text_elements: Vec<Value>,
    },
    #[serde(other)]
    Other,
}

impl UserInput {
    pub fn text(text: impl Into<String>) -> Self {
        UserInput::Text {
            text: text.into(),
            text_elements: Vec::new(),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnStartParams {
    pub thread_id: String,
    pub client_user_message_id: String,
    pub input: Vec<UserInput>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSteerParams {
    pub thread_id: String,
    pub expected_turn_id: String,
    pub client_user_message_id: String,
    pub input: Vec<UserInput>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnInterruptParams {
    pub thread_id: String,
    pub turn_id: String,
}

/// Params of a request that takes none: serialised as `{}`.
#[derive(Debug, Default, Serialize)]
pub struct NoParams {}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadResumeParams {
    pub thread_id: String,
    pub exclude_turns: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadReadParams {
    pub thread_id: String,
    pub include_turns: bool,
}

/// `turn/start` result.
#[derive(Debug, Clone, Deserialize)]
pub struct TurnStartResult {
    pub turn: Turn,
}

/// `turn/steer` result.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnSteerResult {
    pub turn_id: String,
}

/// `thread/loaded/list` result.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadedListResult {
    #[serde(default)]
    pub data: Vec<String>,
}

/// `thread/read` and `thread/resume` results.
#[derive(Debug, Clone, Deserialize)]
pub struct ThreadResult {
    pub thread: Thread,
}

/// A thread as the server describes it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Thread {
    pub id: String,
    pub preview: String,
    pub ephemeral: bool,
    pub path: Option<String>,
    pub cwd: Option<String>,
    pub source: Value,
    pub status: Option<ThreadStatus>,
    pub updated_at: i64,
    pub created_at: i64,
    pub parent_thread_id: Option<String>,
    pub forked_from_id: Option<String>,
    pub turns: Vec<Turn>,
}

/// `ThreadStatus`: `notLoaded`, `idle`, `systemError` or `active`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ThreadStatus {
    NotLoaded,
    Idle,
    SystemError,
    Active {
        #[serde(default, rename = "activeFlags")]
        active_flags: Vec<String>,
    },
    #[serde(other)]
    Unknown,
}

/// A turn.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Turn {
    pub id: String,
    pub status: TurnStatus,
    pub items: Vec<ThreadItem>,
    pub error: Option<Value>,
    /// Unix seconds.
    pub started_at: Option<i64>,
}

/// `Turn.status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TurnStatus {
    Completed,
    Interrupted,
    Failed,
    InProgress,
    #[default]
    #[serde(other)]
    Unknown,
}

impl TurnStatus {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TurnStatus::Completed | TurnStatus::Interrupted | TurnStatus::Failed
        )
    }
}

/// The thread items abg looks at; everything else is `Unknown`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ThreadItem {
    #[serde(rename_all = "camelCase")]
    UserMessage {
        id: String,
        #[serde(default)]
        client_id: Option<String>,
        #[serde(default)]
        content: Vec<UserInput>,
    },
    AgentMessage {
        id: String,
        #[serde(default)]
        text: String,
    },
    #[serde(rename_all = "camelCase")]
    CommandExecution {
        id: String,
        #[serde(default)]
        command: Value,
        #[serde(default)]
        cwd: Option<String>,
        #[serde(default)]
        exit_code: Option<i64>,
        #[serde(default)]
        status: Value,
    },
    FileChange {
        id: String,
        #[serde(default)]
        changes: Vec<FileChangeEntry>,
        #[serde(default)]
        status: Value,
    },
    #[serde(other)]
    Unknown,
}

/// One changed file of a `fileChange` item.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default)]
pub struct FileChangeEntry {
    pub path: String,
    pub kind: Value,
}

impl Default for FileChangeEntry {
    fn default() -> Self {
        Self {
            path: String::new(),
            kind: Value::Null,
        }
    }
}

/// `turn/started` and `turn/completed` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnNotification {
    pub thread_id: String,
    pub turn: Turn,
}

/// `item/started` and `item/completed` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemNotification {
    pub thread_id: String,
    #[serde(default)]
    pub turn_id: String,
    pub item: ThreadItem,
}

/// `thread/status/changed` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadStatusChangedNotification {
    pub thread_id: String,
    pub status: ThreadStatus,
}

/// `thread/closed` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadClosedNotification {
    pub thread_id: String,
}

/// `error` params.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorNotification {
    #[serde(default)]
    pub thread_id: Option<String>,
    #[serde(default)]
    pub turn_id: Option<String>,
    #[serde(default)]
    pub will_retry: bool,
    #[serde(default)]
    pub error: Value,
}

pub use super::notification::Notification;

#[cfg(test)]
mod tests;
