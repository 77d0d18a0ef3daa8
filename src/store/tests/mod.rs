//! Unit tests of the store, one file per concern. Shared helpers live here.

mod approvals;
mod batch;
mod deliveries;
mod durability;
mod messages;
mod migration;
mod open;
mod peers;
mod queue;
mod records;
mod types;

use tempfile::TempDir;

use super::{NewMessage, PeerId, Store};

/// A fresh store in its own temporary directory (keep the `TempDir` alive).
fn temp_store() -> (TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("store.db")).expect("open store");
    (dir, store)
}

fn chat(from: PeerId, to: PeerId, body: &str) -> NewMessage {
    NewMessage::new(from, to, body)
}

/// Insert a message that must be new; returns its id.
fn insert(store: &mut Store, from: PeerId, to: PeerId, body: &str) -> String {
    let inserted = store.insert_message(&chat(from, to, body)).expect("insert");
    assert!(inserted.is_new());
    inserted.into_message().id
}
