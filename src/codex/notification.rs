//! Typed app-server notifications: the handful abg acts on (turn and item
//! lifecycle, thread status, errors), parsed leniently. Why it exists: a
//! newer Codex adds methods and fields all the time; here an unknown
//! method, or a known one with an unexpected shape, becomes `Other` and is
//! logged, never an error that would drop the connection.

use serde_json::Value;

use super::protocol::methods::{
    ErrorNotice, ItemCompleted, ItemStarted, ServerNotification, ThreadClosed, ThreadStarted,
    ThreadStatusChanged, TurnCompleted, TurnStarted,
};
use super::protocol::{Thread, ThreadItem, ThreadStatus, Turn};

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

impl Notification {
    /// Type a notification; a known method with params of an unexpected
    /// shape is logged and becomes `Other` (never an error).
    pub fn parse(method: &str, params: Value) -> Self {
        fn typed<N: ServerNotification>(params: Value) -> Option<N::Params> {
            serde_json::from_value(params)
                .map_err(|e| tracing::warn!(method = N::METHOD, "unexpected params shape: {e}"))
                .ok()
        }
        let parsed = match method {
            TurnStarted::METHOD => {
                typed::<TurnStarted>(params).map(|p| Notification::TurnStarted {
                    thread_id: p.thread_id,
                    turn: p.turn,
                })
            }
            TurnCompleted::METHOD => {
                typed::<TurnCompleted>(params).map(|p| Notification::TurnCompleted {
                    thread_id: p.thread_id,
                    turn: p.turn,
                })
            }
            ItemStarted::METHOD => {
                typed::<ItemStarted>(params).map(|p| Notification::ItemStarted {
                    thread_id: p.thread_id,
                    turn_id: p.turn_id,
                    item: p.item,
                })
            }
            ItemCompleted::METHOD => {
                typed::<ItemCompleted>(params).map(|p| Notification::ItemCompleted {
                    thread_id: p.thread_id,
                    turn_id: p.turn_id,
                    item: p.item,
                })
            }
            ThreadStarted::METHOD => typed::<ThreadStarted>(params)
                .map(|p| Notification::ThreadStarted { thread: p.thread }),
            ThreadStatusChanged::METHOD => {
                typed::<ThreadStatusChanged>(params).map(|p| Notification::ThreadStatusChanged {
                    thread_id: p.thread_id,
                    status: p.status,
                })
            }
            ThreadClosed::METHOD => {
                typed::<ThreadClosed>(params).map(|p| Notification::ThreadClosed {
                    thread_id: p.thread_id,
                })
            }
            ErrorNotice::METHOD => typed::<ErrorNotice>(params).map(|p| Notification::Error {
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
