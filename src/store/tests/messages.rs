//! Messages: insertion with its first delivery, exactly-once by idempotency key and source
//! item id, batches, transcript paging, and full-text search with hostile input.

use std::time::Instant;

use serde_json::json;

use super::super::messages::fts_query;
use super::super::{
    DeliveryState, Inserted, MessageKind, NewMessage, OnBusy, PeerId, Store, StoreError,
};
use super::{chat, insert, temp_store};

#[test]
fn insert_creates_the_first_delivery_and_its_log_row() {
    let (_dir, mut store) = temp_store();
    let to_claude = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "for claude",
    );
    let to_codex = insert(
        &mut store,
        PeerId::from_static("claude"),
        PeerId::from_static("codex"),
        "for codex",
    );
    for (id, recipient, state) in [
        (
            &to_claude,
            PeerId::from_static("claude"),
            DeliveryState::Stored,
        ),
        (
            &to_codex,
            PeerId::from_static("codex"),
            DeliveryState::Queued,
        ),
    ] {
        assert!(id.starts_with("m_") && id.len() == 18, "{id}");
        assert!(id[2..].chars().all(|c| c.is_ascii_hexdigit()));
        let d = store.deliveries_for(id).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(
            (d[0].recipient, d[0].state, d[0].attempts),
            (recipient, state, 0)
        );
        let log = store.delivery_log(id).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].state, state);
    }
}

#[test]
fn every_field_round_trips() {
    let (_dir, mut store) = temp_store();
    let new = NewMessage {
        kind: MessageKind::Notice,
        thread_id: Some("thr_1".into()),
        turn_id: Some("turn_1".into()),
        source_item_id: Some("item_1".into()),
        in_reply_to: Some("m_0000000000000000".into()),
        idempotency_key: Some("k1".into()),
        on_busy: Some(OnBusy::Steer),
        meta: json!({"path": "/tmp/x", "n": 1.5, "nested": [true, null]}),
        created_ms: Some(1_700_000_000_000),
        ..NewMessage::new(
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            "body \u{1F600} \0 with nul",
        )
    };
    let stored = store.insert_message(&new).unwrap().into_message();
    let read = store.get_message(&stored.id).unwrap().unwrap();
    assert_eq!(read, stored);
    assert_eq!(read.created_ms, 1_700_000_000_000);
    assert_eq!(read.meta, new.meta);
    assert_eq!(read.body, new.body);
    assert!(store.get_message("m_ffffffffffffffff").unwrap().is_none());
}

#[test]
fn a_repeated_idempotency_key_yields_the_first_message() {
    let (_dir, mut store) = temp_store();
    let keyed = |from, body: &str| NewMessage {
        idempotency_key: Some("reply-1".into()),
        ..NewMessage::new(from, PeerId::from_static("codex"), body)
    };
    let first = store
        .insert_message(&keyed(PeerId::from_static("claude"), "a"))
        .unwrap();
    let again = store
        .insert_message(&keyed(PeerId::from_static("claude"), "a (retry)"))
        .unwrap();
    assert!(first.is_new());
    assert!(matches!(again, Inserted::Duplicate(_)));
    assert_eq!(again.message(), first.message());
    // The key is scoped to the sender.
    let human = store.insert_message(&keyed(PeerId::HUMAN, "b")).unwrap();
    assert!(human.is_new());
    assert_eq!(store.stats().unwrap().messages, 2);
    assert_eq!(store.delivery_log(&first.message().id).unwrap().len(), 1);
}

#[test]
fn a_repeated_source_item_is_ingested_once() {
    let (_dir, mut store) = temp_store();
    let item = |id: &str| NewMessage {
        source_item_id: Some(id.into()),
        thread_id: Some("thr".into()),
        ..NewMessage::new(
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            "agent message",
        )
    };
    let a = store.insert_message(&item("item-1")).unwrap();
    let b = store.insert_message(&item("item-1")).unwrap();
    let c = store.insert_message(&item("item-2")).unwrap();
    assert!(a.is_new() && !b.is_new() && c.is_new());
    assert_eq!(a.message().id, b.message().id);
    assert_eq!(
        store.unacked_count(PeerId::from_static("claude")).unwrap(),
        2
    );
}

#[test]
fn invalid_messages_are_refused() {
    let (_dir, mut store) = temp_store();
    let bad = [
        chat(PeerId::from_static("claude"), PeerId::HUMAN, "to a human"),
        chat(PeerId::from_static("codex"), PeerId::ABG, "to abg"),
        chat(
            PeerId::from_static("claude"),
            PeerId::from_static("claude"),
            "to itself",
        ),
        NewMessage {
            idempotency_key: Some(String::new()),
            ..chat(
                PeerId::from_static("claude"),
                PeerId::from_static("codex"),
                "empty key",
            )
        },
        NewMessage {
            source_item_id: Some("x".repeat(1000)),
            ..chat(
                PeerId::from_static("codex"),
                PeerId::from_static("claude"),
                "long id",
            )
        },
    ];
    for m in &bad {
        assert!(
            matches!(store.insert_message(m), Err(StoreError::InvalidInput(_))),
            "{m:?}"
        );
    }
    assert_eq!(store.stats().unwrap().messages, 0);
}

#[test]
fn a_batch_of_10000_is_one_transaction() {
    let (_dir, mut store) = temp_store();
    let batch: Vec<NewMessage> = (0..10_000)
        .map(|i| NewMessage {
            idempotency_key: Some(format!("k{i}")),
            ..chat(
                PeerId::from_static("claude"),
                PeerId::from_static("codex"),
                &format!("message number {i} about topic{}", i % 100),
            )
        })
        .collect();
    let started = Instant::now();
    let inserted = store.insert_messages(&batch).unwrap();
    eprintln!("10,000 inserts in one transaction: {:?}", started.elapsed());
    assert_eq!(inserted.len(), 10_000);
    assert!(inserted.iter().all(Inserted::is_new));
    assert!(
        inserted
            .windows(2)
            .all(|w| w[0].message().seq < w[1].message().seq)
    );
    let stats = store.stats().unwrap();
    assert_eq!(stats.messages, 10_000);
    assert_eq!(stats.by_state[&DeliveryState::Queued], 10_000);
    assert_eq!(
        store.unacked_count(PeerId::from_static("codex")).unwrap(),
        10_000
    );

    let started = Instant::now();
    let hits = store.search("topic42", 1000).unwrap();
    eprintln!("search over 10,000 messages: {:?}", started.elapsed());
    assert_eq!(hits.len(), 100);
    assert!(hits.iter().all(|m| m.body.ends_with("topic42")));

    // Re-sending the batch stores nothing; a bad message anywhere rolls back the whole batch.
    assert!(!store.insert_messages(&batch[..10]).unwrap()[9].is_new());
    let mut broken = vec![chat(PeerId::HUMAN, PeerId::from_static("claude"), "fine"); 5];
    broken.push(chat(PeerId::HUMAN, PeerId::HUMAN, "bad"));
    assert!(store.insert_messages(&broken).is_err());
    assert_eq!(store.stats().unwrap().messages, 10_000);
    // Duplicates inside one batch are detected too.
    let twice = vec![
        NewMessage {
            idempotency_key: Some("same".into()),
            ..chat(PeerId::HUMAN, PeerId::from_static("claude"), "x")
        };
        2
    ];
    let r = store.insert_messages(&twice).unwrap();
    assert!(r[0].is_new() && !r[1].is_new());
}

fn seqs(msgs: &[super::super::Message]) -> Vec<i64> {
    msgs.iter().map(|m| m.seq).collect()
}

#[test]
fn transcript_pages_backwards_and_catches_up_forwards() {
    let (_dir, mut store) = temp_store();
    for i in 1..=25 {
        insert(
            &mut store,
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            &format!("m{i}"),
        );
    }
    let newest = store.messages_page(None, 10).unwrap();
    assert_eq!(seqs(&newest), (16..=25).collect::<Vec<_>>());
    let older = store.messages_page(Some(newest[0].seq), 10).unwrap();
    assert_eq!(seqs(&older), (6..=15).collect::<Vec<_>>());
    let oldest = store.messages_page(Some(older[0].seq), 10).unwrap();
    assert_eq!(seqs(&oldest), (1..=5).collect::<Vec<_>>());
    assert!(store.messages_page(Some(1), 10).unwrap().is_empty());
    assert_eq!(
        seqs(&store.messages_after(20, 100).unwrap()),
        vec![21, 22, 23, 24, 25]
    );
    assert_eq!(seqs(&store.messages_after(0, 2).unwrap()), vec![1, 2]);
    assert!(store.messages_after(25, 10).unwrap().is_empty());
    assert!(store.messages_page(None, 0).unwrap().is_empty());
}

fn search_bodies(store: &mut Store, q: &str) -> Vec<String> {
    store
        .search(q, 50)
        .unwrap_or_else(|e| panic!("search {q:?} failed: {e}"))
        .into_iter()
        .map(|m| m.body)
        .collect()
}

#[test]
fn search_finds_words_prefixes_and_ranks() {
    let (_dir, mut store) = temp_store();
    for body in [
        "The migration plan for the store",
        "Run cargo test after the migration",
        "unrelated chatter",
        "Café déjà vu",
    ] {
        insert(
            &mut store,
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            body,
        );
    }
    assert_eq!(search_bodies(&mut store, "migration").len(), 2);
    assert_eq!(
        search_bodies(&mut store, "migration cargo"),
        ["Run cargo test after the migration"]
    );
    assert_eq!(search_bodies(&mut store, "migr*").len(), 2);
    assert_eq!(search_bodies(&mut store, "cafe"), ["Café déjà vu"]);
    assert_eq!(search_bodies(&mut store, "MIGRATION PLAN").len(), 1);
    assert!(search_bodies(&mut store, "absent").is_empty());
    assert_eq!(store.search("migration", 1).unwrap().len(), 1);
}

#[test]
fn hostile_search_queries_never_error() {
    let (_dir, mut store) = temp_store();
    let bodies = [
        "'; DROP TABLE messages; --",
        "meet me NEAR( the station",
        "say \"hello\" OR goodbye",
        "plain text",
    ];
    for body in bodies {
        insert(
            &mut store,
            PeerId::HUMAN,
            PeerId::from_static("codex"),
            body,
        );
    }
    let long = "x".repeat(100_000);
    let many = "word ".repeat(1000);
    let hostile = [
        "",
        " ",
        "\"",
        "\"\"",
        "'",
        "''",
        "*",
        "**",
        "a*b*",
        "NEAR(",
        "NEAR(a b",
        "NEAR(a b, 2)",
        "NEAR",
        "AND",
        "OR",
        "NOT",
        "a AND",
        "OR b",
        "NOT NOT",
        "(",
        ")",
        "((a)",
        "{a b}: c",
        "body:plain",
        "-plain",
        "+plain",
        "^plain",
        "plain^",
        "'; DROP TABLE messages; --",
        ") OR 1=1 --",
        "\" OR \"\"=\"",
        "say \"hello",
        "\\",
        "%",
        "_",
        "\0",
        "\u{1F600}",
        "rank:1",
        "messages_fts",
        "*plain",
        "pla\"in",
        ":",
        ",",
        ".",
        long.as_str(),
        many.as_str(),
    ];
    for q in hostile {
        store
            .search(q, 10)
            .unwrap_or_else(|e| panic!("query {q:?} errored: {e}"));
    }
    // Hostile-looking queries still mean their words.
    assert_eq!(
        search_bodies(&mut store, "'; DROP TABLE messages; --"),
        ["'; DROP TABLE messages; --"]
    );
    assert_eq!(
        search_bodies(&mut store, "NEAR("),
        ["meet me NEAR( the station"]
    );
    assert_eq!(
        search_bodies(&mut store, "\"hello\" OR"),
        ["say \"hello\" OR goodbye"]
    );
    assert_eq!(search_bodies(&mut store, "\"plain"), ["plain text"]);
    assert!(search_bodies(&mut store, "*").is_empty());
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(store.stats().unwrap().messages, 4);
}

#[test]
fn fts_queries_are_quoted_terms() {
    assert_eq!(fts_query(""), None);
    assert_eq!(fts_query("  * ( ) -- "), None);
    assert_eq!(
        fts_query("hello world").as_deref(),
        Some("\"hello\" \"world\"")
    );
    assert_eq!(
        fts_query("say \"hi\"").as_deref(),
        Some("\"say\" \"\"\"hi\"\"\"")
    );
    assert_eq!(fts_query("migr*").as_deref(), Some("\"migr\"*"));
    assert_eq!(fts_query("NEAR(a").as_deref(), Some("\"NEAR(a\""));
    let many = "w ".repeat(100);
    let q = fts_query(&many).unwrap();
    assert_eq!(q.matches("\"w\"").count(), super::super::MAX_SEARCH_TERMS);
}

/// Messages stored one at a time are indexed in batches, and a search
/// indexes whatever is still waiting first: it never misses a message.
#[test]
fn full_text_indexing_is_batched_and_search_sees_every_message() {
    let (_dir, mut store) = temp_store();
    let indexed = |s: &Store| -> i64 {
        s.conn
            .query_row("SELECT COUNT(*) FROM messages_fts_docsize", [], |r| {
                r.get(0)
            })
            .unwrap()
    };
    for i in 0..3 {
        insert(
            &mut store,
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            &format!("kiwi {i}"),
        );
    }
    assert_eq!(indexed(&store), 0, "a lone message is not indexed at once");
    assert_eq!(search_bodies(&mut store, "kiwi").len(), 3);
    assert_eq!(indexed(&store), 3);
    let batch = super::super::fts::BATCH;
    for i in 0..batch {
        insert(
            &mut store,
            PeerId::from_static("codex"),
            PeerId::from_static("claude"),
            &format!("mango {i}"),
        );
    }
    assert_eq!(
        indexed(&store),
        3 + batch,
        "a full batch is indexed by its commit"
    );
    assert_eq!(
        search_bodies(&mut store, "mango").len(),
        50.min(batch as usize)
    );
}

#[test]
fn message_ids_sort_by_time_and_keep_their_shape() {
    let a = super::super::message_id_at(1_700_000_000_000, 0xffff_ffff);
    let b = super::super::message_id_at(1_700_000_000_001, 0);
    assert!(a < b, "{a} !< {b}");
    assert_eq!(a.len(), 18);
    assert!(a.starts_with("m_") && a[2..].chars().all(|c| c.is_ascii_hexdigit()));
    // Out-of-range clocks still give a well-formed id.
    assert_eq!(super::super::message_id_at(-5, 1), "m_0000000000000001");
    let (_dir, mut store) = temp_store();
    let first = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "one",
    );
    std::thread::sleep(std::time::Duration::from_millis(2));
    let second = insert(
        &mut store,
        PeerId::from_static("codex"),
        PeerId::from_static("claude"),
        "two",
    );
    assert!(first < second, "{first} !< {second}");
}

#[test]
fn a_peer_has_conversed_once_it_sent_or_got_a_message_that_is_not_a_notice() {
    let (_dir, mut store) = temp_store();
    let third = PeerId::from_static("fake-3");
    store
        .register_peer(third, Some(super::super::DeliveryModel::Turn))
        .expect("register");
    assert!(!store.has_conversed(third).expect("query"));
    store
        .insert_message(&NewMessage {
            kind: MessageKind::Notice,
            ..chat(PeerId::ABG, third, "paused")
        })
        .expect("notice");
    assert!(
        !store.has_conversed(third).expect("query"),
        "a notice does not count"
    );
    insert(&mut store, PeerId::HUMAN, third, "hello");
    assert!(store.has_conversed(third).expect("query"));
    let codex = PeerId::from_static("codex");
    assert!(!store.has_conversed(codex).expect("query"));
    insert(&mut store, codex, PeerId::from_static("claude"), "done");
    assert!(store.has_conversed(codex).expect("query"));
}
