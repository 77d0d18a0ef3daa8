//! Opening: pragmas, migrations from empty and on reopen, refusal of newer and foreign
//! files, file modes, and the schema accepting every enum variant.

use crate::store::DeliveryModel;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::sync::Mutex;

use rusqlite::Connection;

use super::super::schema::MIGRATIONS;
use super::super::{
    APPLICATION_ID, DeliveryState, MessageKind, NewMessage, OnBusy, PeerId, SCHEMA_VERSION, Store,
    StoreError,
};
use super::{chat, insert, temp_store};

#[test]
fn migrates_an_empty_file_with_the_right_pragmas() {
    let (_dir, store) = temp_store();
    assert_eq!(SCHEMA_VERSION, MIGRATIONS.len() as i64);
    assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
    let c = &store.conn;
    let pragma = |name: &str| -> String {
        c.query_row(&format!("PRAGMA {name}"), [], |r| {
            r.get::<_, rusqlite::types::Value>(0)
        })
        .map(|v| format!("{v:?}"))
        .unwrap()
    };
    assert_eq!(pragma("journal_mode"), "Text(\"wal\")");
    assert_eq!(pragma("synchronous"), "Integer(1)"); // NORMAL
    assert_eq!(pragma("foreign_keys"), "Integer(1)");
    assert_eq!(pragma("busy_timeout"), "Integer(5000)");
    assert_eq!(
        pragma("application_id"),
        format!("Integer({APPLICATION_ID})")
    );
    let mut tables: Vec<String> = c
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'messages_fts_%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    tables.sort();
    assert_eq!(
        tables,
        [
            "approvals",
            "deliveries",
            "delivery_log",
            "events",
            "messages",
            "messages_fts",
            "peers",
            "readings",
            "settings",
            "tombstones"
        ]
    );
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn reopening_is_idempotent_and_keeps_data() {
    let (dir, mut store) = temp_store();
    let id = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "hello",
    );
    store.close().unwrap();
    for _ in 0..3 {
        let store = Store::open(&dir.path().join("store.db")).unwrap();
        assert_eq!(store.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(store.get_message(&id).unwrap().unwrap().body, "hello");
        assert_eq!(store.stats().unwrap().messages, 1);
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let (dir, store) = temp_store();
    let path = dir.path().join("store.db");
    store.close().unwrap();
    let raw = Connection::open(&path).unwrap();
    raw.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(raw);
    let err = Store::open(&path).unwrap_err();
    match err {
        StoreError::TooNew { found, supported } => {
            assert_eq!(found, SCHEMA_VERSION + 1);
            assert_eq!(supported, SCHEMA_VERSION);
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
    assert!(err_text(&path).contains("newer than this abg supports"));
}

fn err_text(path: &std::path::Path) -> String {
    Store::open(path).unwrap_err().to_string()
}

#[test]
fn a_foreign_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    let raw = Connection::open(&path).unwrap();
    raw.execute_batch("PRAGMA application_id = 42; CREATE TABLE t (x);")
        .unwrap();
    drop(raw);
    assert!(matches!(
        Store::open(&path),
        Err(StoreError::ForeignDatabase {
            application_id: 42,
            ..
        })
    ));
    let raw = Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        mode, "delete",
        "the foreign file must not be switched to WAL"
    );
}

#[test]
fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let mut store = Store::open(&path).unwrap();
    insert(&mut store, PeerId::HUMAN, PeerId::from_static("codex"), "x");
    for suffix in ["", "-wal", "-shm"] {
        let p = dir.path().join(format!("store.db{suffix}"));
        let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    drop(store);
    // An existing file with loose permissions is tightened on open.
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    drop(Store::open(&path).unwrap());
    let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_symlinked_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("elsewhere.db");
    let link = dir.path().join("store.db");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(matches!(Store::open(&link), Err(StoreError::Setup(_))));
    assert!(!target.exists());
}

#[test]
fn store_is_send_and_works_behind_a_mutex() {
    fn assert_send<T: Send>() {}
    assert_send::<Store>();
    let (_dir, store) = temp_store();
    let shared = std::sync::Arc::new(Mutex::new(store));
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let shared = shared.clone();
            std::thread::spawn(move || {
                for i in 0..25 {
                    let mut s = shared.lock().unwrap();
                    s.insert_message(&chat(
                        PeerId::HUMAN,
                        PeerId::from_static("claude"),
                        &format!("{t}-{i}"),
                    ))
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(shared.lock().unwrap().stats().unwrap().messages, 100);
}

#[test]
fn close_checkpoints_the_wal() {
    let (dir, mut store) = temp_store();
    insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "x",
    );
    store.close().unwrap();
    let wal = dir.path().join("store.db-wal");
    assert!(!wal.exists() || fs::metadata(&wal).unwrap().len() == 0);
}

#[test]
fn the_schema_accepts_every_enum_variant() {
    let (_dir, mut store) = temp_store();
    for from in [
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        PeerId::HUMAN,
        PeerId::ABG,
    ] {
        for to in [PeerId::from_static("claude"), PeerId::from_static("codex")] {
            if from == to {
                continue;
            }
            for kind in [MessageKind::Chat, MessageKind::Notice] {
                for on_busy in [
                    None,
                    Some(OnBusy::Queue),
                    Some(OnBusy::Steer),
                    Some(OnBusy::Interrupt),
                ] {
                    let m = NewMessage {
                        kind,
                        on_busy,
                        ..NewMessage::new(from, to, "v")
                    };
                    let stored = store.insert_message(&m).unwrap().into_message();
                    assert_eq!(store.get_message(&stored.id).unwrap(), Some(stored));
                }
            }
        }
    }
    for recipient in [PeerId::from_static("claude"), PeerId::from_static("codex")] {
        for state in DeliveryState::ALL {
            let model = store.delivery_model(recipient.as_str()).unwrap();
            if !model.applies(state) {
                continue;
            }
            let id = insert(&mut store, PeerId::HUMAN, recipient, "s");
            let t = store.transition(&id, recipient, state, None, None).unwrap();
            assert_eq!(store.deliveries_for(&id).unwrap(), vec![t.delivery]);
        }
    }
    // Every state belongs to at least one recipient's machine.
    for state in DeliveryState::ALL {
        assert!(DeliveryModel::ALL.iter().any(|m| m.applies(state)));
    }
}
