//! A store written by the previous release (schema v3, `tests/fixtures/store/v3.sqlite`,
//! see its README) opens with this build and keeps everything: every message with its
//! seq, every delivery and history row (now with the reason the V4 backfill derived from
//! its detail), events, tombstones, settings, readings and full-text hits. Migrating is
//! idempotent, and a step that fails leaves the v3 file as it was.

use std::path::{Path, PathBuf};

use rusqlite::Connection;
use rusqlite::types::Value;
use serde_json::json;
use tempfile::TempDir;

use super::super::schema::MIGRATIONS;
use super::super::{
    DeliveryModel, DeliveryReason as R, DeliveryState, MAX_PAGE, NewMessage, PeerId, Store,
    StoreError,
};

const FIXTURE: &str = "tests/fixtures/store/v3.sqlite";

/// The fixture, copied into a fresh directory (opening migrates in place).
fn v3_copy() -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    std::fs::copy(Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE), &path).expect("copy");
    (dir, path)
}

/// Every row of `sql`, as plain values.
fn rows(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = conn.prepare(sql).expect(sql);
    let n = stmt.column_count();
    stmt.query_map([], |r| (0..n).map(|i| r.get::<_, Value>(i)).collect())
        .expect(sql)
        .collect::<rusqlite::Result<_>>()
        .expect(sql)
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Text(t) => Some(t.clone()),
        Value::Null => None,
        other => panic!("not text: {other:?}"),
    }
}

fn int(v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        other => panic!("not an integer: {other:?}"),
    }
}

/// The reason V4 must derive for each detail text v3 wrote (exact texts of the fixture).
fn expected_reason(state: &str, detail: Option<&str>) -> Option<R> {
    let governor_hold = "governor: 20 agent-to-agent messages in a row without human input; the relay resumes when you write to either agent (or run `abg resume-relay`)";
    let table: &[(&str, Option<R>)] = &[
        ("acknowledged by Claude", Some(R::Acked)),
        (
            "budget_paused: Claude's 5-hour window is at 97.5%; resumes when it resets at 2023-11-15 03:13:20Z",
            Some(R::BudgetPaused),
        ),
        (
            "budget_paused: paused by hand (`abg budget resume codex` resumes)",
            Some(R::BudgetPaused),
        ),
        ("channel push", Some(R::ChannelPush)),
        ("delivered as Stop hook feedback", Some(R::StopHookFeedback)),
        ("gave up", None),
        ("get_messages", Some(R::Fetched)),
        (governor_hold, Some(R::GovernorHold)),
        (
            "governor: not relayed: a bare acknowledgement (\"ok\") is not relayed",
            Some(R::GovernorDamped),
        ),
        (
            "governor: not relayed: a verbatim repeat of the previous message is not relayed",
            Some(R::GovernorDamped),
        ),
        ("governor: relay resumed", Some(R::GovernorResumed)),
        ("in Claude's context (Stop hook)", Some(R::InContext)),
        (
            "in Claude's transcript (UserPromptSubmit hook)",
            Some(R::InTranscript),
        ),
        ("interrupting turn turn_11", Some(R::Interrupting)),
        ("interrupting turn turn_3", Some(R::Interrupting)),
        ("interrupting turn turn_6", Some(R::Interrupting)),
        ("released: the budget pause ended", Some(R::BudgetResumed)),
        ("retried by hand", None),
        ("starting a turn", Some(R::Starting)),
        (
            "steer refused (turn not steerable); queued until the turn ends",
            Some(R::SteerRefused),
        ),
        ("steered into the running turn", Some(R::Steered)),
        ("steering into turn turn_10", Some(R::Steering)),
        ("steering into turn turn_2", Some(R::Steering)),
        ("steering into turn turn_5", Some(R::Steering)),
        ("turn completed", Some(R::TurnEnded)),
        (
            "turn ended while abg was not listening",
            Some(R::TurnEndedUnobserved),
        ),
        ("turn found after reconnect", Some(R::TurnFound)),
        ("turn interrupted", Some(R::TurnEnded)),
        ("turn started", Some(R::TurnStarted)),
        (
            "turn turn_6 did not end after the interrupt; queued",
            Some(R::InterruptTimeout),
        ),
        (
            "turn/start refused: thread busy; will retry",
            Some(R::StartRefused),
        ),
        ("waiting for Codex's turn state", Some(R::TurnStateUnknown)),
        ("waiting for the running turn to end", Some(R::TurnRunning)),
        ("waiting for turn turn_1 to end", Some(R::BehindTurn)),
    ];
    let detail = detail?;
    // A failed turn is not a turn that ended: no reason.
    if (state, detail) == ("failed", "turn failed") {
        return None;
    }
    table
        .iter()
        .find(|(d, _)| *d == detail)
        .unwrap_or_else(|| panic!("detail {detail:?} missing from the expected table"))
        .1
}

const MESSAGE_SQL: &str = "SELECT seq, id, from_agent, to_agent, body, kind, created_ms, thread_id, \
     turn_id, source_item_id, in_reply_to, idempotency_key, on_busy, meta FROM messages ORDER BY seq";
const DELIVERY_SQL: &str = "SELECT message_id, recipient, state, detail, turn_id, attempts, \
     updated_ms FROM deliveries ORDER BY message_id, recipient";
const LOG_SQL: &str =
    "SELECT seq, message_id, recipient, state, detail, ts_ms FROM delivery_log ORDER BY seq";

/// What the v3 file holds, read with plain SQL before the new code touches it.
struct V3 {
    messages: Vec<Vec<Value>>,
    deliveries: Vec<Vec<Value>>,
    log: Vec<Vec<Value>>,
    events: Vec<Vec<Value>>,
    settings: Vec<Vec<Value>>,
    tombstones: Vec<Vec<Value>>,
    readings: Vec<Vec<Value>>,
    sequences: Vec<Vec<Value>>,
    indexed: Vec<Vec<Value>>,
}

fn read_v3(path: &Path) -> V3 {
    let c = Connection::open(path).expect("raw open");
    assert_eq!(
        c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
            .unwrap(),
        3,
        "the fixture is a v3 store"
    );
    V3 {
        messages: rows(&c, MESSAGE_SQL),
        deliveries: rows(&c, DELIVERY_SQL),
        log: rows(&c, LOG_SQL),
        events: rows(&c, "SELECT seq, ts_ms, kind, data FROM events ORDER BY seq"),
        settings: rows(&c, "SELECT key, value FROM settings ORDER BY key"),
        tombstones: rows(
            &c,
            "SELECT key, created_ms, data FROM tombstones ORDER BY key",
        ),
        readings: rows(&c, "SELECT * FROM readings ORDER BY seq"),
        sequences: rows(&c, "SELECT name, seq FROM sqlite_sequence ORDER BY name"),
        indexed: rows(&c, "SELECT id FROM messages_fts_docsize ORDER BY id"),
    }
}

#[test]
fn a_v3_store_migrates_without_losing_anything() {
    let (_dir, path) = v3_copy();
    let v3 = read_v3(&path);
    assert_eq!(v3.messages.len(), 37);
    assert_eq!(v3.log.len(), 91);
    let mut store = Store::open(&path).expect("open the v3 store");
    assert_eq!(store.schema_version().unwrap(), MIGRATIONS.len() as i64);
    assert_eq!(store.integrity_check().unwrap(), "ok");
    let c = &store.conn;
    // Rows, columns and seq values as they were (plain SQL on the migrated file).
    assert_eq!(rows(c, MESSAGE_SQL), v3.messages);
    assert_eq!(rows(c, DELIVERY_SQL), v3.deliveries);
    assert_eq!(rows(c, LOG_SQL), v3.log);
    assert_eq!(
        rows(c, "SELECT seq, ts_ms, kind, data FROM events ORDER BY seq"),
        v3.events
    );
    assert_eq!(
        rows(c, "SELECT key, value FROM settings ORDER BY key"),
        v3.settings
    );
    assert_eq!(
        rows(
            c,
            "SELECT key, created_ms, data FROM tombstones ORDER BY key"
        ),
        v3.tombstones
    );
    assert_eq!(
        rows(
            c,
            "SELECT seq, side, window, used_pct, resets_at, observed_ms, source FROM readings ORDER BY seq"
        ),
        v3.readings
    );
    assert_eq!(
        rows(c, "SELECT name, seq FROM sqlite_sequence ORDER BY name"),
        v3.sequences
    );
    assert_eq!(
        rows(c, "SELECT id FROM messages_fts_docsize ORDER BY id"),
        v3.indexed
    );
    c.execute_batch("INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')")
        .expect("the full-text index matches the messages");

    // Messages through the API.
    let messages = store.messages_after(0, MAX_PAGE).unwrap();
    assert_eq!(messages.len(), v3.messages.len());
    for (m, raw) in messages.iter().zip(&v3.messages) {
        assert_eq!(m.seq, int(&raw[0]));
        assert_eq!(Some(m.id.clone()), text(&raw[1]));
        assert_eq!(Some(m.from.to_string()), text(&raw[2]));
        assert_eq!(Some(m.to.to_string()), text(&raw[3]));
        assert_eq!(Some(m.body.clone()), text(&raw[4]));
        assert_eq!(Some(m.kind.to_string()), text(&raw[5]));
        assert_eq!(m.created_ms, int(&raw[6]));
        assert_eq!(m.thread_id, text(&raw[7]));
        assert_eq!(m.turn_id, text(&raw[8]));
        assert_eq!(m.source_item_id, text(&raw[9]));
        assert_eq!(m.in_reply_to, text(&raw[10]));
        assert_eq!(m.idempotency_key, text(&raw[11]));
        assert_eq!(m.on_busy.map(|b| b.to_string()), text(&raw[12]));
        assert_eq!(
            Some(m.meta.clone()),
            text(&raw[13]).map(|t| serde_json::from_str(&t).unwrap())
        );
        assert_eq!(store.get_message(&m.id).unwrap().as_ref(), Some(m));
    }
    let pairs: std::collections::BTreeSet<(PeerId, PeerId)> =
        messages.iter().map(|m| (m.from, m.to)).collect();
    assert_eq!(pairs.len(), 6, "every sender/recipient pair: {pairs:?}");

    // Deliveries, with the derived reason.
    let mut states = std::collections::BTreeSet::new();
    for raw in &v3.deliveries {
        let id = text(&raw[0]).unwrap();
        let d = store.deliveries_for(&id).unwrap();
        assert_eq!(d.len(), 1);
        let d = &d[0];
        let state = text(&raw[2]).unwrap();
        assert_eq!(Some(d.recipient.to_string()), text(&raw[1]));
        assert_eq!(d.state.to_string(), state);
        assert_eq!(d.detail, text(&raw[3]));
        assert_eq!(d.turn_id, text(&raw[4]));
        assert_eq!(i64::from(d.attempts), int(&raw[5]));
        assert_eq!(d.updated_ms, int(&raw[6]));
        assert_eq!(
            d.reason,
            expected_reason(&state, d.detail.as_deref()),
            "{d:?}"
        );
        states.insert(d.state);
    }
    assert_eq!(states.len(), DeliveryState::ALL.len(), "every state");

    // The history, with the derived reason.
    let log = store.delivery_log_after(0, MAX_PAGE).unwrap();
    assert_eq!(log.len(), v3.log.len());
    for (e, raw) in log.iter().zip(&v3.log) {
        assert_eq!(e.seq, int(&raw[0]));
        assert_eq!(Some(e.message_id.clone()), text(&raw[1]));
        assert_eq!(Some(e.recipient.to_string()), text(&raw[2]));
        let state = text(&raw[3]).unwrap();
        assert_eq!(e.state.to_string(), state);
        assert_eq!(e.detail, text(&raw[4]));
        assert_eq!(e.ts_ms, int(&raw[5]));
        assert_eq!(
            e.reason,
            expected_reason(&state, e.detail.as_deref()),
            "{e:?}"
        );
    }

    // Events, tombstones, settings, readings through the API.
    let events = store.events_after(0, MAX_PAGE).unwrap();
    assert_eq!(events.len(), v3.events.len());
    for (e, raw) in events.iter().zip(&v3.events) {
        assert_eq!((e.seq, e.ts_ms), (int(&raw[0]), int(&raw[1])));
        assert_eq!(Some(e.kind.clone()), text(&raw[2]));
        assert_eq!(
            e.data,
            serde_json::from_str::<serde_json::Value>(&text(&raw[3]).unwrap()).unwrap()
        );
    }
    for raw in &v3.tombstones {
        let key = text(&raw[0]).unwrap();
        let t = store.tombstone_get(&key).unwrap().expect("tombstone kept");
        assert_eq!(t.created_ms, int(&raw[1]));
        assert!(!store.tombstone_insert(&key, json!(null)).unwrap());
    }
    assert!(store.tombstone_get("kickoff").unwrap().is_some());
    for raw in &v3.settings {
        let key = text(&raw[0]).unwrap();
        let value: serde_json::Value = store.get_setting(&key).unwrap().expect("setting kept");
        assert_eq!(
            value,
            serde_json::from_str::<serde_json::Value>(&text(&raw[1]).unwrap()).unwrap()
        );
    }
    let governor: crate::daemon::governor::GovernorState = store
        .get_setting(crate::daemon::governor::SETTING_KEY)
        .unwrap()
        .unwrap();
    assert_eq!(governor.exchanges, 20);
    let budget: crate::budget::decide::State = store
        .get_setting(crate::budget::sense::STATE_KEY)
        .unwrap()
        .unwrap();
    assert!(budget.claude.is_some() && budget.codex.is_some());
    for (side, window, n) in [
        ("claude", "five_hour", 1),
        ("claude", "weekly", 1),
        ("codex", "five_hour", 2),
        ("codex", "weekly", 1),
    ] {
        assert_eq!(
            store.recent_readings(side, window, 10).unwrap().len(),
            n,
            "{side} {window}"
        );
    }

    // Full-text search: indexed messages, and the two the last batch left out.
    let hits = |store: &mut Store, q: &str| -> Vec<String> {
        let mut ids: Vec<String> = store
            .search(q, 10)
            .unwrap()
            .into_iter()
            .map(|m| m.id)
            .collect();
        ids.sort();
        ids
    };
    let with = |word: &str| -> Vec<String> {
        let mut ids: Vec<String> = messages
            .iter()
            .filter(|m| m.body.contains(word))
            .map(|m| m.id.clone())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(hits(&mut store, "zebra"), with("zebra"));
    assert_eq!(hits(&mut store, "zebra").len(), 2);
    assert_eq!(hits(&mut store, "cafe"), with("café"));
    assert_eq!(hits(&mut store, "ocelot"), with("ocelot"));
    assert_eq!(hits(&mut store, "ocelot").len(), 2);

    // Peers are the four every v3 store holds; the store runs on as before.
    let peers: Vec<(String, Option<DeliveryModel>)> =
        store.peers().iter().map(|(k, v)| (k.clone(), *v)).collect();
    assert_eq!(
        peers,
        [
            ("abg".to_owned(), None),
            ("claude".to_owned(), Some(DeliveryModel::Push)),
            ("codex".to_owned(), Some(DeliveryModel::Turn)),
            ("human".to_owned(), None),
        ]
    );
    let last = messages.last().unwrap().seq;
    let fresh = store
        .insert_message(&NewMessage::new(
            PeerId::HUMAN,
            PeerId::from_static("codex"),
            "after the migration",
        ))
        .unwrap()
        .into_message();
    assert!(fresh.seq > last);
    let held = messages
        .iter()
        .find(|m| m.body == "governor holds codex")
        .unwrap();
    let d = &store.deliveries_for(&held.id).unwrap()[0];
    assert_eq!(d.hold(), Some(R::GovernorHold));
    store
        .transition(
            &held.id,
            PeerId::from_static("codex"),
            DeliveryState::Queued,
            R::GovernorResumed,
            None,
        )
        .unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
}

#[test]
fn migrating_twice_changes_nothing() {
    let (_dir, path) = v3_copy();
    let first = Store::open(&path).expect("open");
    let snapshot = |s: &Store| {
        [
            rows(&s.conn, MESSAGE_SQL),
            rows(&s.conn, "SELECT * FROM deliveries ORDER BY message_id"),
            rows(&s.conn, "SELECT * FROM delivery_log ORDER BY seq"),
            rows(&s.conn, "SELECT * FROM peers ORDER BY id"),
            rows(
                &s.conn,
                "SELECT type, name, sql FROM sqlite_master ORDER BY name",
            ),
        ]
    };
    let before = snapshot(&first);
    first.close().unwrap();
    let mut again = Store::open(&path).expect("reopen");
    assert_eq!(snapshot(&again), before);
    // Running the migrations on a current file is a no-op too.
    assert_eq!(
        super::super::schema::migrate(&mut again.conn, &path).unwrap(),
        MIGRATIONS.len() as i64
    );
    assert_eq!(snapshot(&again), before);
    let fk: i64 = again
        .conn
        .pragma_query_value(None, "foreign_keys", |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1, "foreign keys are enforced after migrating");
}

/// A V4 step that fails part-way (here: a table in its way; then: a delivery whose
/// message is gone) leaves the v3 file exactly as it was, and foreign keys on.
#[test]
fn a_failed_migration_leaves_the_v3_file_intact() {
    let (_dir, path) = v3_copy();
    let schema = |p: &Path| {
        let c = Connection::open(p).unwrap();
        (
            c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0))
                .unwrap(),
            rows(
                &c,
                "SELECT type, name, sql FROM sqlite_master WHERE name NOT IN ('in_the_way') ORDER BY name",
            ),
            rows(&c, MESSAGE_SQL),
            rows(&c, "SELECT * FROM deliveries ORDER BY message_id"),
        )
    };
    let before = schema(&path);
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE readings_v4 (x); CREATE TABLE in_the_way (x);")
        .unwrap();
    assert!(Store::open(&path).is_err(), "the step fails on readings_v4");
    let mut after = schema(&path);
    after
        .1
        .retain(|row| text(&row[1]).as_deref() != Some("readings_v4"));
    assert_eq!(after, before, "nothing of the failed step remains");

    let raw = Connection::open(&path).unwrap();
    raw.execute_batch(
        "DROP TABLE readings_v4; DROP TABLE in_the_way;
         PRAGMA foreign_keys = OFF;
         INSERT INTO deliveries (message_id, recipient, state, attempts, updated_ms)
         VALUES ('m_gone', 'claude', 'stored', 0, 1);",
    )
    .unwrap();
    drop(raw);
    match Store::open(&path) {
        Err(StoreError::Setup(why)) => assert!(why.contains("foreign key"), "{why}"),
        other => panic!("expected a foreign key refusal, got {other:?}"),
    }
    assert_eq!(schema(&path).0, 3, "still v3");
    Connection::open(&path)
        .unwrap()
        .execute_batch("DELETE FROM deliveries WHERE message_id = 'm_gone'")
        .unwrap();
    let store = Store::open(&path).expect("opens once the file is sound");
    assert_eq!(store.integrity_check().unwrap(), "ok");
}
