//! `GET /v1/status`'s answer: the daemon's phase, identity, peers, queues
//! and pending deliveries, as `abg status`, the web UI and the probes that
//! tell a live daemon from a squatter read it. Apart from the frames so the
//! protocol module stays readable; re-exported from there.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

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
    /// Every registered peer: attached, queue, what it publishes.
    #[serde(default)]
    pub peers: BTreeMap<String, PeerStatus>,
    /// Undelivered messages with their delivery state, oldest first (at most 20).
    #[serde(default)]
    pub pending: Vec<PendingView>,
    /// Approval requests waiting for an answer (`abg approvals`).
    #[serde(default)]
    pub approvals_pending: u64,
}

/// One peer in `abg status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// The name people read ("Claude").
    pub name: String,
    /// How it takes messages (`turn` peers take `on_busy`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<crate::store::types::DeliveryModel>,
    pub attached: bool,
    /// Undelivered messages for it.
    pub queued: u64,
    /// What the peer publishes about itself (Codex: thread and turn;
    /// Claude: channel and busy), absent until it has said anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub view: Option<serde_json::Value>,
    /// Whether it takes part in this pair (an optional agent once it
    /// attached or exchanged messages); `all` reaches only these.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub takes_part: Option<bool>,
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

/// Which peers have a live control connection, by peer id.
pub type Attached = BTreeMap<String, bool>;

/// Undelivered messages per recipient, by peer id; on the wire each key is
/// `to_<peer id>` (`{"to_claude": 1, "to_codex": 0}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Queues(pub BTreeMap<String, u64>);

impl Queues {
    /// The queue to peer `id` (0 when unknown).
    pub fn to(&self, id: &str) -> u64 {
        self.0.get(id).copied().unwrap_or(0)
    }
}

impl Serialize for Queues {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (id, n) in &self.0 {
            map.serialize_entry(&format!("to_{id}"), n)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Queues {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = BTreeMap::<String, u64>::deserialize(d)?;
        Ok(Queues(
            raw.into_iter()
                .map(|(k, n)| (k.strip_prefix("to_").unwrap_or(&k).to_string(), n))
                .collect(),
        ))
    }
}
