//! The transcript-search corpus shared by `benches/search.rs` and the
//! suite: 10,000 messages of programming chatter, every 1000th planted
//! with "zanzibar", generated from a fixed seed.

use abg::store::Store;
use abg::store::types::NewMessage;

pub const MESSAGES: usize = 10_000;

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

/// Queries a human types into the UI's search box.
pub const QUERIES: &[&str] = &[
    "zanzibar",
    "clippy warning",
    "deliv*",
    "\"unbalanced ( query",
    "failing test patch",
];

/// A store with [`MESSAGES`] messages; every 1000th mentions "zanzibar".
pub fn seeded() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("bench: tempdir");
    let mut store = Store::open(&dir.path().join("store.sqlite")).expect("bench: store");
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
                (abg::claude::PEER, abg::codex::PEER)
            } else {
                (abg::codex::PEER, abg::claude::PEER)
            };
            NewMessage::new(from, to, body.join(" "))
        })
        .collect();
    for chunk in batch.chunks(1000) {
        store.insert_messages(chunk).expect("bench: insert");
    }
    (dir, store)
}
