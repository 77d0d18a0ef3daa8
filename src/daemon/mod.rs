//! The per-pair daemon: its pidfile (`pidfile`), its in-memory core over
//! the store (`core`) with its batched commits (`group_commit`) and its
//! in-process wake-ups (`bus`), the loop governor (`governor`), the
//! kickoff notice when both agents are first attached (`kickoff`), its main
//! loop (`run`), its logs (`logging`), and the client-side logic that
//! finds, spawns, replaces and stops it (`ensure`); the one answer to a
//! send and the one status of a core error (`send`), what a waiting sender
//! is told about its message (`outcome`); unit tests share one
//! core fixture (`test_support`).

pub mod bus;
pub mod core;
pub mod ensure;
pub mod governor;
pub mod group_commit;
pub mod kickoff;
pub mod logging;
pub mod outcome;
pub mod pidfile;
pub mod run;
pub mod send;
#[cfg(test)]
pub mod test_support;
