//! Wire types of the web UI's JSON API (`/ui/api/…`, served by
//! [`crate::web`]) and of its live stream's status events and cursor, here
//! beside the control plane's so every payload has one home.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{Attached, OnBusy, Phase, Queues, SendResult};
use crate::store::types::{Approval, Event};

/// `GET /ui/login?token=…`: the one-time login token from `abg ui`.
#[derive(Deserialize)]
pub struct LoginQuery {
    #[serde(default)]
    pub token: String,
}

/// `GET /ui/api/session`: what the page needs to talk to the daemon.
#[derive(Serialize)]
pub struct SessionInfo {
    pub csrf: String,
    pub pair_id: String,
    pub pair_name: String,
    pub version: &'static str,
    pub max_body_bytes: usize,
}

/// `?before=SEQ&limit=N` of the message and event pages.
#[derive(Deserialize)]
pub struct PageQuery {
    pub before: Option<i64>,
    #[serde(default = "default_page")]
    pub limit: usize,
}

/// The page size when none is asked for.
pub fn default_page() -> usize {
    50
}

/// `GET /ui/api/messages`: the newest messages before a seq, oldest first.
#[derive(Serialize)]
pub struct MessagesPage {
    pub messages: Vec<UiMessage>,
    /// Where the live stream should start (taken before reading the page).
    pub cursor: Cursor,
    pub has_more: bool,
}

/// `GET /ui/api/events`: the newest pair events before a seq, oldest first.
#[derive(Serialize)]
pub struct EventsPage {
    pub events: Vec<Event>,
}

/// `GET /ui/api/search?q=…&limit=N`.
#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default = "default_page")]
    pub limit: usize,
}

/// Answer of a transcript search.
#[derive(Serialize)]
pub struct SearchResults {
    pub messages: Vec<UiMessage>,
    pub took_ms: f64,
}

/// What the composer sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComposeRequest {
    /// A peer id of the pair, or `all` (every peer; `both` is its older
    /// name).
    pub to: String,
    pub body: String,
    #[serde(default)]
    pub on_busy: Option<OnBusy>,
    /// Client-chosen key making a retried send idempotent.
    #[serde(default)]
    pub key: Option<String>,
}

/// Answer of the composer: one send result per recipient.
#[derive(Serialize)]
pub struct ComposeResult {
    pub results: Vec<SendResult>,
}

/// A stored message as the UI shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiMessage {
    pub seq: i64,
    pub id: String,
    pub from: String,
    pub to: String,
    pub kind: String,
    pub body: String,
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_busy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
    /// Current delivery state for the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Why it is in that state (a `DeliveryReason` name), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn_id: Option<String>,
    /// The fan-out this message belongs to, when it is one of several
    /// copies of one send (`--to all`, `@all`, a reply to several peers):
    /// the sender and the send's key with the recipient's suffix removed,
    /// equal for every copy (see [`UiMessage::new`]). Absent when the
    /// message carries no key to tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fanout: Option<String>,
}

/// Where a live stream stands: the last message, delivery-log and event seq
/// delivered to the client. Written `m.d.e` (the SSE event id).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    pub m: i64,
    pub d: i64,
    pub e: i64,
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.m, self.d, self.e)
    }
}

/// A cursor that is not `m.d.e` with non-negative integers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad stream cursor {0:?}: expected <message seq>.<delivery seq>.<event seq>")]
pub struct BadCursor(pub String);

impl FromStr for Cursor {
    type Err = BadCursor;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadCursor(s.chars().take(64).collect());
        let mut it = s.trim().split('.').map(|p| p.parse::<i64>());
        match (it.next(), it.next(), it.next(), it.next()) {
            (Some(Ok(m)), Some(Ok(d)), Some(Ok(e)), None) if m >= 0 && d >= 0 && e >= 0 => {
                Ok(Cursor { m, d, e })
            }
            _ => Err(bad()),
        }
    }
}

/// The pair status bar: every peer (in registration order) with what it
/// publishes about itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub pair_name: String,
    pub phase: Phase,
    pub attached: Attached,
    pub queues: Queues,
    pub peers: Vec<PeerBar>,
    pub version: String,
}

/// One peer in the status bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PeerBar {
    pub id: String,
    pub name: String,
    pub attached: bool,
    pub queued: u64,
    /// How it takes messages (`turn` peers take `on_busy`).
    pub model: Option<crate::store::types::DeliveryModel>,
    /// What the peer publishes (Claude: `channel`, `busy`; Codex: `turn`).
    pub view: Option<serde_json::Value>,
}

/// `GET /ui/api/approvals?answered=N`: the approvals inbox as the page's
/// panel shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UiApprovals {
    /// Every pending approval (oldest first), then the `answered` most
    /// recently closed ones (newest first).
    pub approvals: Vec<Approval>,
    /// How many wait for an answer in all.
    pub pending: u64,
    /// The daemon's clock, to show ages against.
    pub now_ms: i64,
}

/// `?answered=N` of [`UiApprovals`]: how many closed approvals to include.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UiApprovalsQuery {
    #[serde(default = "default_answered")]
    pub answered: usize,
}

fn default_answered() -> usize {
    20
}
