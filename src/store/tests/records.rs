//! Events, settings and tombstones.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::super::{Store, StoreError};
use super::temp_store;

#[test]
fn events_are_appended_and_paged() {
    let (_dir, mut store) = temp_store();
    let first = store
        .record_event("turn.started", json!({"turn": "t1"}))
        .unwrap();
    assert_eq!(first.seq, 1);
    for i in 0..9 {
        store
            .record_event("command", json!({"i": i, "cmd": "cargo test"}))
            .unwrap();
    }
    let page = store.events_after(0, 4).unwrap();
    assert_eq!(page.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3, 4]);
    assert_eq!(page[0], first);
    let rest = store.events_after(4, 100).unwrap();
    assert_eq!(rest.len(), 6);
    assert_eq!(rest[5].data, json!({"i": 8, "cmd": "cargo test"}));
    assert!(store.events_after(10, 100).unwrap().is_empty());
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Governor {
    limit: u32,
    paused: bool,
}

#[test]
fn settings_round_trip_as_json() {
    let (dir, mut store) = temp_store();
    assert_eq!(store.get_setting::<Governor>("governor").unwrap(), None);
    let g = Governor {
        limit: 20,
        paused: false,
    };
    store.set_setting("governor", &g).unwrap();
    assert_eq!(store.get_setting::<Governor>("governor").unwrap(), Some(g));
    store
        .set_setting("governor", &json!({"limit": 5, "paused": true}))
        .unwrap();
    assert_eq!(
        store.get_setting::<Governor>("governor").unwrap(),
        Some(Governor {
            limit: 5,
            paused: true
        })
    );
    store.set_setting("thread", "thr_1").unwrap();
    assert!(matches!(
        store.get_setting::<u32>("thread"),
        Err(StoreError::Json(_))
    ));
    assert!(store.delete_setting("thread").unwrap());
    assert!(!store.delete_setting("thread").unwrap());
    drop(store);
    let store = Store::open(&dir.path().join("store.db")).unwrap();
    assert_eq!(
        store.get_setting::<serde_json::Value>("governor").unwrap(),
        Some(json!({"limit": 5, "paused": true}))
    );
}

#[test]
fn tombstones_make_one_shot_actions_idempotent() {
    let (dir, mut store) = temp_store();
    assert!(store.tombstone_get("resume:codex:1").unwrap().is_none());
    assert!(
        store
            .tombstone_insert("resume:codex:1", json!({"reset": 123}))
            .unwrap()
    );
    assert!(
        !store
            .tombstone_insert("resume:codex:1", json!({"reset": 456}))
            .unwrap()
    );
    assert!(
        store
            .tombstone_insert("resume:codex:2", json!(null))
            .unwrap()
    );
    drop(store);
    let mut store = Store::open(&dir.path().join("store.db")).unwrap();
    assert!(
        !store
            .tombstone_insert("resume:codex:1", json!(null))
            .unwrap()
    );
    let t = store.tombstone_get("resume:codex:1").unwrap().unwrap();
    assert_eq!(t.data, json!({"reset": 123}));
    assert!(t.created_ms > 0);
}
