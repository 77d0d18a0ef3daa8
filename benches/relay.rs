//! In-process costs on the relay path, with criterion: storing a message
//! (one WAL transaction), a delivery transition, reading a recipient's
//! queue, parsing an app-server `item/completed` frame, building the
//! channel push, and the governor's verdict. `cargo bench --bench relay`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use abg::claude::mcp::push;
use abg::codex::notification::Notification;
use abg::codex::protocol::{Incoming, parse_incoming};
use abg::control::protocol::PeerMessage;
use abg::daemon::governor::judge::{GovernorState, judge};
use abg::store::Store;
use abg::store::types::{DeliveryState, MessageKind, NewMessage};
use criterion::{Criterion, criterion_group, criterion_main};

const ITEM: &str = r#"{"method":"item/completed","params":{"threadId":"th_1","turnId":"tu_1","item":{"type":"agentMessage","id":"it_1","text":"The build passes; I refactored the store module and added a test for the queue."}},"emittedAtMs":1}"#;

fn store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("bench: tempdir");
    let mut store = Store::open(&dir.path().join("store.sqlite")).expect("bench: store");
    let mut i = 0u64;
    c.bench_function("store/insert_message", |b| {
        b.iter(|| {
            i += 1;
            let m = NewMessage::new(abg::codex::PEER, abg::claude::PEER, format!("message {i}"));
            store.insert_message(&m).expect("bench: insert")
        })
    });
    c.bench_function("store/transition_pushed", |b| {
        b.iter_custom(|iters| {
            let ids: Vec<String> = (0..iters)
                .map(|_| {
                    i += 1;
                    let m = NewMessage::new(
                        abg::codex::PEER,
                        abg::claude::PEER,
                        format!("message {i}"),
                    );
                    store
                        .insert_message(&m)
                        .expect("bench: insert")
                        .into_message()
                        .id
                })
                .collect();
            let start = std::time::Instant::now();
            for id in &ids {
                store
                    .transition(id, abg::claude::PEER, DeliveryState::Pushed, None, None)
                    .expect("bench: transition");
            }
            start.elapsed()
        })
    });
    c.bench_function("store/pending_for_claude", |b| {
        b.iter(|| {
            store
                .pending_for(abg::claude::PEER, 1000)
                .expect("bench: pending")
        })
    });
}

fn wire(c: &mut Criterion) {
    c.bench_function("codex/parse_item_completed", |b| {
        b.iter(|| match parse_incoming(std::hint::black_box(ITEM)) {
            Some(Incoming::Notification { method, params }) => Notification::parse(&method, params),
            _ => panic!("bench: not a notification"),
        })
    });
    let m = PeerMessage {
        id: "m_00000000000000aa".into(),
        from: abg::codex::PEER,
        body: "The build passes; I refactored the store module.".into(),
        created_ms: 0,
        thread_id: Some("th_1".into()),
        turn_id: Some("tu_1".into()),
        in_reply_to: None,
    };
    c.bench_function("claude/channel_push_params", |b| {
        b.iter(|| push::params(std::hint::black_box(&m), 16_384, None))
    });
    c.bench_function("governor/judge", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            let mut st = GovernorState::default();
            judge(
                &mut st,
                Some(20),
                abg::codex::PEER,
                abg::claude::PEER,
                MessageKind::Chat,
                &format!("please review patch {n}"),
            )
        })
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = store, wire
}

criterion_main!(benches);
