//! The daemon's control plane: the typed protocol (`protocol`, with the
//! budget routes' bodies in `protocol::budget`, the approvals inbox's in
//! `protocol::approvals` and the web UI's payloads in `protocol::web`), the axum server (which names no agent: a `peer` frame
//! goes to the peer it names) with its
//! authentication and browser guards (`server`, `guard`; the session
//! handshake in `handshake`, other paths' own gates such as the web UI's
//! cookie registered as a `guard::PathGate`),
//! the approvals inbox's routes (`approvals`),
//! the JSON shape of every error (`errors`),
//! the accept loop with its timeouts and connection cap (`accept`), and the
//! client the CLI and agent-side processes use (`client`).

pub mod accept;
mod app;
pub(crate) mod approvals;
pub mod client;
pub mod errors;
pub mod guard;
pub mod handshake;
pub mod protocol;
pub mod server;
