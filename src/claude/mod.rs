//! The Claude side: which way `abg claude` loads abg into Claude Code
//! (`channel`: generated config or the plugin), how it builds the real
//! Claude Code command line (`launch`), the files and checks around a
//! launch (`setup`: MCP config, settings layer, the pair's `abg claude`
//! lock) and runs it (`run`), the channel server `abg mcp`
//! (`mcp`), the hooks (`hook`), the daemon's side of them — the peer the
//! daemon registers (`peer`), the push worker and live state (`link`), the
//! answers to the side's requests (`inbox`) with its pure delivery rules
//! (`policy`), Claude's side of the approvals inbox (`approvals`) and
//! their wire types (`protocol`) — the transcript evidence
//! of what Claude saw (`transcript`) and the control-plane client they
//! share (`wsclient`).

pub mod approvals;
pub mod channel;
pub mod hook;
pub mod inbox;
pub mod launch;
pub mod link;
pub mod mcp;
pub mod peer;
pub mod policy;
pub mod protocol;
pub mod run;
pub mod setup;
pub mod transcript;
pub mod wsclient;

/// Claude's peer id.
pub const PEER: crate::store::types::PeerId = crate::store::types::PeerId::from_static("claude");
