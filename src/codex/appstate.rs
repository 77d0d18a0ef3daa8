//! What the daemon records about the pair's running `codex app-server`
//! (`codex-appserver.json` in the pair's state dir): its types, where the
//! file lives, and how it is read.
//!
//! Why it exists: the app-server's owner (`appserver`), its guard
//! (`guard`) and everyone who ends an orphaned one (`orphan`) read this
//! record; keeping it here, below all three, lets them share it without
//! importing one another in a circle.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::pair::Pair;

/// The permission mode the app-server applies to threads (resumed ones
/// included, where the TUI may not pass permission flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// No approvals, no sandbox (what `--yolo` means).
    Yolo,
    /// Codex's own configured approvals and sandbox.
    Safe,
}

/// What the daemon publishes about the running app-server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppServerState {
    pub pid: u32,
    pub port: u16,
    pub mode: Mode,
    pub version: String,
    /// Kernel start time of `pid` (a reused pid is never signalled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<u64>,
    /// Its guard: parent and process group leader (absent in state files
    /// written before guards, whose app-server leads its own group).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<u32>,
    /// Kernel start time of `guard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_start_time: Option<u64>,
}

/// Written by the daemon once the app-server is ready.
pub fn state_file(pair: &Pair) -> PathBuf {
    state_path(&pair.dir)
}
/// [`state_file`] of the pair whose state dir is `pair_dir`.
pub fn state_path(pair_dir: &Path) -> PathBuf {
    pair_dir.join("codex-appserver.json")
}
/// The recorded app-server of `pair`, if its state file is there and
/// parses.
pub fn read_state(pair: &Pair) -> Option<AppServerState> {
    let text = std::fs::read_to_string(state_file(pair)).ok()?;
    serde_json::from_str(&text).ok()
}
