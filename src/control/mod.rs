//! The daemon's control plane: the typed protocol (`protocol`), the axum
//! server with its authentication and browser guards (`server`, `guard`),
//! the JSON shape of every error (`errors`),
//! the accept loop with its timeouts and connection cap (`accept`), and the
//! client the CLI and agent-side processes use (`client`).

pub mod accept;
pub mod client;
pub mod errors;
pub mod guard;
pub mod handshake;
pub mod protocol;
pub mod server;
