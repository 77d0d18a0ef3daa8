//! The error the daemon's core reports to its callers (the control server,
//! the peers, the components), in a file of its own so the modules the core
//! itself uses (the group commit, the governor's judgement) can name it
//! without importing the core.

use thiserror::Error;

use crate::store::StoreError;

/// Errors the core reports to callers.
#[derive(Debug, Error)]
pub enum CoreError {
    #[error("{0}")]
    Invalid(String),
    /// What the request names does not exist (an approval id).
    #[error("{0}")]
    NotFound(String),
    /// An earlier request won (an approval already answered).
    #[error("{0}")]
    Conflict(String),
    /// A peer's adapter could not carry the request out.
    #[error("{0}")]
    Undelivered(String),
    #[error("store error: {0}")]
    Store(#[from] StoreError),
}
