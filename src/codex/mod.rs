//! The Codex side: how `abg codex` builds the real Codex command line
//! (`launch`), the app-server protocol subset (`protocol`, with every
//! method name in one typed table, `protocol::methods`) and its WebSocket
//! client (`transport`), the daemon-owned app-server
//! (`appserver`) and what it records (`appstate`), thread and turn tracking (`session`), delivery of queued
//! messages (`delivery`), ingestion of what Codex says (`ingest`), the
//! daemon task tying them together (`link`), which thread it follows
//! (`follow`), its approval requests in the
//! inbox (`approvals`), and the peer the daemon registers (`peer`).

pub mod approvals;
pub mod appserver;
pub mod appstate;
pub mod delivery;
mod follow;
pub mod guard;
mod ingest;
pub mod launch;
pub mod link;
pub mod notification;
pub mod orphan;
pub mod peer;
pub mod protocol;
pub mod session;
pub mod transport;

/// Codex's peer id.
pub const PEER: crate::store::types::PeerId = crate::store::types::PeerId::from_static("codex");
