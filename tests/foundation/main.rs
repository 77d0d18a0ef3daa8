//! Integration tests of the foundation: the real `abg` binary, its
//! registry, daemon and control plane, each test in its own temp HOME,
//! state dir and port range.

mod env;

mod cli;
mod concurrency;
mod control;
mod governor;
mod kickoff;
mod lifecycle;
mod terminal;
