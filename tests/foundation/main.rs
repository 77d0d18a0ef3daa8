//! Integration tests of the foundation: the real `abg` binary, its
//! registry, daemon and control plane, each test in its own temp HOME,
//! state dir and port range.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod env;

mod approvals;
mod auth;
mod cli;
mod concurrency;
mod conns;
mod control;
mod errors;
mod governor;
mod in_process;
mod kickoff;
mod lifecycle;
mod orphans;
mod peer_seam;
mod routing;
mod security;
mod terminal;
mod ui_sessions;
mod web_approvals;
