//! Quota sensing and the quota relay (issue 7): both agents' 5-hour and
//! weekly windows, and a long task that survives one agent's quota wall.
//!
//! - `readings`: what a reading is, windows by length, sparse merging (pure).
//! - `decide`: the relay's decisions over readings, thresholds, pause state
//!   and time (pure, table-tested).
//! - `report` / `text`: the `abg.budget/1` report and its text view.
//! - `sense`: recording readings in the daemon (Claude's statusline, the
//!   Codex app-server) and gathering the store's view.
//! - `gate`: holds deliveries to a paused side, releases them on resume.
//! - `relay`: the daemon component (registered by `crate::peers`) whose task
//!   acts on decisions, and manual pause/resume.
//! - `http`: the control-plane routes (`/v1/budget…`; their bodies are wire
//!   types in [`crate::control::protocol::budget`]).
//! - `statusline`: pure helpers of `abg statusline` (the settings entry, the
//!   user's own statusLine chained).

pub mod decide;
pub mod gate;
pub mod http;
pub mod readings;
pub mod relay;
pub mod report;
pub mod sense;
pub mod statusline;
pub mod text;
