//! The per-pair daemon, which names no agent: its core over the store
//! (`core`, with its error in `error`, its batched commits in
//! `group_commit`, its in-process wake-ups and live stream in `bus`), the
//! seam the agent adapters implement (`peer`), the approvals inbox's port
//! (`approvals`), who gets an agent's answer (`routing`), what a send does and answers
//! (`send`, `outcome`), what `abg status` reads (`status`), the components
//! registered at start (the loop governor `governor`, the `kickoff`), its
//! pidfile (`pidfile`) and logs (`logging`), and the client-side logic
//! that finds, spawns, replaces and stops it (`ensure`). The process that
//! runs it is `crate::serve`.

pub mod approvals;
pub mod bus;
pub mod core;
pub mod ensure;
pub mod error;
pub mod governor;
pub mod group_commit;
pub mod kickoff;
pub mod logging;
pub mod outcome;
pub mod peer;
pub mod pidfile;
pub mod routing;
pub mod send;
pub mod status;
