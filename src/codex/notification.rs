//! Typed app-server notifications: the handful abg acts on (turn and item
//! lifecycle, thread status, errors), parsed leniently. Why it exists: a
//! newer Codex adds methods and fields all the time; here an unknown
//! method, or a known one with an unexpected shape, becomes `Other` and is
//! logged, never an error that would drop the connection.

use serde::Deserialize;
use serde_json::Value;

use super::protocol::{Thread, ThreadItem, ThreadResult, ThreadStatus, Turn};

/// Notifications abg acts on, typed; the rest is `Other`.
#[derive(Debug, Clone, PartialEq)]
pub enum Notification {
    TurnStarted {
        thread_id: String,
        turn: Turn,
    },
    TurnCompleted {
        thread_id: String,
        turn: Turn,
    },
    ItemStarted {
        thread_id: String,
        turn_id: String,
        item: ThreadItem,
    },
    ItemCompleted {
        thread_id: String,
        turn_id: String,
        item: ThreadItem,
    },
    ThreadStarted {
        thread: Thread,
    },
    ThreadStatusChanged {
        thread_id: String,
        status: ThreadStatus,
    },
    ThreadClosed {
        thread_id: String,
    },
    Error {
        thread_id: Option<String>,
        turn_id: Option<String>,
        will_retry: bool,
        message: String,
    },
    /// Anything else, including methods this build does not know.
    Other {
        method: String,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TurnParams {
    thread_id: String,
    turn: Turn,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ItemParams {
    thread_id: String,
    #[serde(default)]
    turn_id: String,
    item: ThreadItem,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StatusParams {
    thread_id: String,
    status: ThreadStatus,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ThreadIdParams {
    thread_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorParams {
    #[serde(default)]
    thread_id: Option<String>,
    #[serde(default)]
    turn_id: Option<String>,
    #[serde(default)]
    will_retry: bool,
    #[serde(default)]
    error: Value,
}

impl Notification {
    /// Type a notification; a known method with params of an unexpected
    /// shape is logged and becomes `Other` (never an error).
    pub fn parse(method: &str, params: Value) -> Self {
        fn typed<T: serde::de::DeserializeOwned>(method: &str, params: Value) -> Option<T> {
            serde_json::from_value(params)
                .map_err(|e| tracing::warn!(method, "unexpected params shape: {e}"))
                .ok()
        }
        let parsed = match method {
            "turn/started" => {
                typed::<TurnParams>(method, params).map(|p| Notification::TurnStarted {
                    thread_id: p.thread_id,
                    turn: p.turn,
                })
            }
            "turn/completed" => {
                typed::<TurnParams>(method, params).map(|p| Notification::TurnCompleted {
                    thread_id: p.thread_id,
                    turn: p.turn,
                })
            }
            "item/started" => {
                typed::<ItemParams>(method, params).map(|p| Notification::ItemStarted {
                    thread_id: p.thread_id,
                    turn_id: p.turn_id,
                    item: p.item,
                })
            }
            "item/completed" => {
                typed::<ItemParams>(method, params).map(|p| Notification::ItemCompleted {
                    thread_id: p.thread_id,
                    turn_id: p.turn_id,
                    item: p.item,
                })
            }
            "thread/started" => typed::<ThreadResult>(method, params)
                .map(|p| Notification::ThreadStarted { thread: p.thread }),
            "thread/status/changed" => {
                typed::<StatusParams>(method, params).map(|p| Notification::ThreadStatusChanged {
                    thread_id: p.thread_id,
                    status: p.status,
                })
            }
            "thread/closed" => {
                typed::<ThreadIdParams>(method, params).map(|p| Notification::ThreadClosed {
                    thread_id: p.thread_id,
                })
            }
            "error" => typed::<ErrorParams>(method, params).map(|p| Notification::Error {
                thread_id: p.thread_id,
                turn_id: p.turn_id,
                will_retry: p.will_retry,
                message: p.error["message"]
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| p.error.to_string()),
            }),
            _ => None,
        };
        parsed.unwrap_or_else(|| Notification::Other {
            method: method.to_string(),
        })
    }

    /// The thread this notification is about, if any.
    pub fn thread_id(&self) -> Option<&str> {
        match self {
            Notification::TurnStarted { thread_id, .. }
            | Notification::TurnCompleted { thread_id, .. }
            | Notification::ItemStarted { thread_id, .. }
            | Notification::ItemCompleted { thread_id, .. }
            | Notification::ThreadStatusChanged { thread_id, .. }
            | Notification::ThreadClosed { thread_id } => Some(thread_id),
            Notification::ThreadStarted { thread } => Some(&thread.id),
            Notification::Error { thread_id, .. } => thread_id.as_deref(),
            Notification::Other { .. } => None,
        }
    }
}
