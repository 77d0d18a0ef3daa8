//! The daemon's control plane: the typed protocol (`protocol`), the axum
//! server with its authentication and browser guards (`server`, `guard`),
//! and the client the CLI and agent-side processes use (`client`).

pub mod client;
pub mod guard;
pub mod handshake;
pub mod protocol;
pub mod server;
