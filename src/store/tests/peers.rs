//! Peers are data: the state machine of a delivery follows the recipient's registered
//! delivery model, registrations persist, and ids are checked.

use super::super::{DeliveryModel, DeliveryState, PeerId, Store, StoreError};

const CLAUDE: PeerId = PeerId::from_static("claude");
const CODEX: PeerId = PeerId::from_static("codex");
use super::{insert, temp_store};

#[test]
fn the_registered_model_decides_the_state_machine() {
    let (dir, mut store) = temp_store();
    assert_eq!(store.delivery_model("claude"), Some(DeliveryModel::Push));
    assert_eq!(store.delivery_model("human"), None);
    assert_eq!(store.delivery_model("nobody"), None);
    // Claude taking messages as turns: its deliveries start queued and follow turns.
    store
        .register_peer(CLAUDE, Some(DeliveryModel::Turn))
        .unwrap();
    let id = insert(&mut store, CODEX, CLAUDE, "as a turn");
    assert_eq!(
        store.deliveries_for(&id).unwrap()[0].state,
        DeliveryState::Queued
    );
    assert!(matches!(
        store.transition(&id, CLAUDE, DeliveryState::Pushed, None, None),
        Err(StoreError::InvalidTransition { .. })
    ));
    store
        .transition(&id, CLAUDE, DeliveryState::Started, None, Some("t"))
        .unwrap();
    let retried = store.retry(&id, CLAUDE, None).unwrap();
    assert_eq!(retried.delivery.state, DeliveryState::Queued);
    // A sender-only peer cannot be addressed.
    store.register_peer(CODEX, None).unwrap();
    assert!(matches!(
        store.insert_message(&super::chat(PeerId::HUMAN, CODEX, "x")),
        Err(StoreError::InvalidInput(_))
    ));
    store
        .register_peer(PeerId::from_static("fake-3"), Some(DeliveryModel::Push))
        .unwrap();
    // Ids are checked where they are made (a `PeerId` is well-formed).
    for bad in ["", "Claude", "a'b", "9lives", &"x".repeat(40)] {
        assert!(bad.parse::<PeerId>().is_err(), "{bad:?}");
    }
    drop(store);
    let store = Store::open(&dir.path().join("store.db")).unwrap();
    assert_eq!(store.delivery_model("claude"), Some(DeliveryModel::Turn));
    assert_eq!(store.delivery_model("codex"), None);
    assert_eq!(store.delivery_model("fake-3"), Some(DeliveryModel::Push));
    assert_eq!(store.peers().len(), 5);
}
