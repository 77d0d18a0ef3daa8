//! Transcript search over 10,000 stored messages (SQLite FTS5): checks the
//! right messages come back, prints the latency, and runs criterion on a
//! few typical queries. `cargo bench --bench search`.
// Test/bench code: a failed unwrap is a failed test or an aborted run.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Its report (or a screenshot path) on stdout is what it is run for.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

#[path = "suite/corpus.rs"]
mod corpus;

use abg::store::Store;
use corpus::{MESSAGES, QUERIES, seeded};
use criterion::{Criterion, criterion_group, criterion_main};

fn report(store: &mut Store) {
    let found = store.search("zanzibar", 100).expect("search");
    assert_eq!(found.len(), 10, "exactly the ten planted messages");
    assert!(found.iter().all(|m| m.body.contains("zanzibar")));
    for query in QUERIES.iter().copied() {
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
    let (_dir, mut store) = seeded();
    report(&mut store);
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
