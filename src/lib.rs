//! abg: run Claude Code and OpenAI Codex as live peers in one project.
//!
//! One binary plays every role: the CLI (`cli`), the per-pair daemon
//! (`daemon`) with its control plane (`control`) and durable store
//! (`store`), the agent adapters (`claude`, `codex`, `opencode`) with `pty`, the
//! composition root that registers them with the daemon (`peers`), the
//! daemon process that wires core, control server and web UI together
//! (`serve`), and the web UI (`web`); `clock` (time as epoch ms and UTC text), `lockfile`
//! (private `flock` lock files) and `restarts` (supervising a daemon-owned
//! server, with its restart backoff) are shared by all of them.

pub mod budget;
pub mod claude;
pub mod cli;
pub mod clock;
pub mod codex;
pub mod config;
pub mod control;
pub mod daemon;
pub mod doctor;
pub mod init;
pub mod lockfile;
pub mod opencode;
pub mod pair;
pub mod paths;
pub mod peers;
pub mod pty;
pub mod restarts;
pub mod serve;
pub mod store;
pub mod terminal_text;
pub mod web;

/// This build's version, shared by every role (CLI, daemon, MCP server).
pub fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

/// Free loopback port blocks for unit tests (the same file the integration
/// tests use).
#[cfg(test)]
#[path = "../tests/support/ports.rs"]
#[allow(clippy::expect_used, clippy::unwrap_used, dead_code)]
pub(crate) mod test_ports;
