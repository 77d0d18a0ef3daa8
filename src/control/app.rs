//! The control server's shared state (the core and the peer registry),
//! in a file of its own so the route modules (`server`, `approvals`) share
//! it without importing each other.

use std::sync::Arc;

use crate::daemon::core::Core;
use crate::daemon::peer::Peers;

/// What every control route is handed.
#[derive(Clone)]
pub(super) struct AppState {
    pub(super) core: Arc<Core>,
    pub(super) peers: Peers,
}
