//! Transcript search over 10,000 stored messages (SQLite FTS5): checks the
//! right messages come back, prints the latency, and runs criterion on a
//! few typical queries. `cargo bench --bench search`.

use std::time::{Duration, Instant};

use abg::store::Store;
use abg::store::types::{Agent, NewMessage};
use criterion::{Criterion, criterion_group, criterion_main};

const MESSAGES: usize = 10_000;
const WORDS: &[&str] = &[
    "build",
    "test",
    "failing",
    "passes",
    "refactor",
    "module",
    "store",
    "daemon",
    "codex",
    "claude",
    "review",
    "patch",
    "error",
    "warning",
    "clippy",
    "format",
    "queue",
    "turn",
    "steer",
    "interrupt",
    "message",
    "delivery",
    "search",
    "index",
    "schema",
    "migration",
    "config",
    "budget",
    "governor",
    "relay",
    "socket",
    "stream",
    "browser",
    "session",
];

/// A store with 10,000 messages; every 1000th mentions "zanzibar".
fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("store.sqlite")).expect("store");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let batch: Vec<NewMessage> = (0..MESSAGES)
        .map(|i| {
            let n = 20 + (next() % 60) as usize;
            let mut body: Vec<&str> = (0..n)
                .map(|_| WORDS[(next() % WORDS.len() as u64) as usize])
                .collect();
            if i % 1000 == 7 {
                body.push("zanzibar");
            }
            let (from, to) = if i % 2 == 0 {
                (Agent::Claude, Agent::Codex)
            } else {
                (Agent::Codex, Agent::Claude)
            };
            NewMessage::new(from, to, body.join(" "))
        })
        .collect();
    for chunk in batch.chunks(1000) {
        store.insert_messages(chunk).expect("insert");
    }
    (dir, store)
}

fn report(store: &Store) {
    let found = store.search("zanzibar", 100).expect("search");
    assert_eq!(found.len(), 10, "exactly the ten planted messages");
    assert!(found.iter().all(|m| m.body.contains("zanzibar")));
    for query in [
        "zanzibar",
        "clippy warning",
        "deliv*",
        "\"unbalanced ( query",
        "failing test patch",
    ] {
        let runs = 50;
        let mut times = Vec::with_capacity(runs);
        let mut hits = 0;
        for _ in 0..runs {
            let t = Instant::now();
            hits = store.search(query, 50).expect("search").len();
            times.push(t.elapsed());
        }
        times.sort();
        let mean = times.iter().sum::<Duration>() / runs as u32;
        let p99 = times[runs * 99 / 100];
        println!(
            "search over {MESSAGES} messages: {query:<24} {hits:>3} hits  mean {:>7.3} ms  p99 {:>7.3} ms",
            mean.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        assert!(
            p99 < Duration::from_millis(50),
            "{query}: p99 {p99:?} over 50 ms"
        );
    }
}

fn bench(c: &mut Criterion) {
    let (_dir, store) = seeded();
    report(&store);
    let mut group = c.benchmark_group("search_10k");
    for query in ["zanzibar", "clippy warning", "deliv*"] {
        group.bench_function(query, |b| {
            b.iter(|| store.search(query, 50).expect("search"))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(Duration::from_secs(2));
    targets = bench
}

criterion_main!(benches);
