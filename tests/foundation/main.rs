//! Integration tests of the foundation: the real `abg` binary, its
//! registry, daemon and control plane, each test in its own temp HOME,
//! state dir and port range.

mod env;

mod auth;
mod cli;
mod concurrency;
mod conns;
mod control;
mod errors;
mod governor;
mod kickoff;
mod lifecycle;
mod orphans;
mod security;
mod terminal;
mod ui_sessions;
