//! The OpenCode side, abg's optional third peer: the daemon-owned
//! `opencode serve` (`server`), its HTTP API and `/event` stream (`api`,
//! with the events abg reads typed in `event`), what `abg opencode` and the
//! server are started with (`launch`), delivery of queued messages as
//! prompts (`delivery`), ingestion of OpenCode's final answers (`ingest`),
//! its permission requests in the approvals inbox (`approvals`), following
//! the human to another session (`follow`), the daemon
//! task tying them together (`link`), and the peer the daemon registers
//! (`peer`).
//!
//! Nothing starts until `abg opencode` asks for it (it writes the mode
//! file, see `server`), so a pair that never uses OpenCode runs no OpenCode
//! process and sends it nothing. Verified facts about the pinned CLI are in
//! `tests/reference/opencode.md`.

pub mod api;
pub mod approvals;
pub mod delivery;
pub mod event;
mod follow;
mod ingest;
pub mod launch;
pub mod link;
pub mod peer;
pub mod server;

#[cfg(test)]
mod tests;

/// OpenCode's peer id.
pub const PEER: crate::store::types::PeerId = crate::store::types::PeerId::from_static("opencode");
