//! The store's error type: one enum so callers (daemon, control plane) can map store
//! failures to precise responses instead of strings.

use std::path::PathBuf;

use super::types::{DeliveryState, PeerId};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store database error: {0}")]
    Sqlite(#[from] rusqlite::Error),

    #[error("store file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// The file was written by a newer abg; using it could corrupt data that version relies on.
    #[error(
        "store schema version {found} is newer than this abg supports ({supported}); \
         upgrade abg, or move the pair's store.db aside to start fresh"
    )]
    TooNew { found: i64, supported: i64 },

    #[error(
        "{path} is an SQLite database of another application (application_id {application_id:#x}), not an abg store"
    )]
    ForeignDatabase { path: PathBuf, application_id: i64 },

    #[error("store setup failed: {0}")]
    Setup(String),

    #[error("store JSON error: {0}")]
    Json(#[from] serde_json::Error),

    #[error("invalid input: {0}")]
    InvalidInput(String),

    #[error("{what} not found: {key}")]
    NotFound { what: &'static str, key: String },

    /// An approval already answered (or closed): the first answer won.
    #[error("approval {id} is already {how}")]
    ApprovalClosed {
        id: String,
        state: super::types::ApprovalState,
        /// How and when it was answered ("approved via cli by human at … ms").
        how: String,
    },

    #[error(
        "invalid delivery transition for {message_id} to {recipient}: {from} -> {to} ({reason})"
    )]
    InvalidTransition {
        message_id: String,
        recipient: PeerId,
        from: DeliveryState,
        to: DeliveryState,
        reason: &'static str,
    },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
