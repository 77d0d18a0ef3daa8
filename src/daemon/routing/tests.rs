//! The address parser and the routing rules, over a core with a third
//! agent (no tasks started).

use std::sync::Arc;

use super::*;
use crate::config::Config;
use crate::daemon::core::PeerInfo;
use crate::store::types::DeliveryModel;

const CLAUDE: PeerId = PeerId::from_static("claude");
const CODEX: PeerId = PeerId::from_static("codex");
const THIRD: PeerId = PeerId::from_static("third");

fn core_with(dir: &std::path::Path, ids: &[PeerId], relay: &str, default_to: &str) -> Arc<Core> {
    use crate::pair::PairName;
    use crate::pair::registry::{Entry, Registry};
    let pair = Registry::new(dir, 40000).pair(&Entry {
        id: crate::pair::pair_id(dir, &PairName::default()),
        name: "main".into(),
        root: dir.to_path_buf(),
        slot: 0,
        created_ms: 0,
    });
    crate::paths::ensure_private_dir(&pair.dir).expect("dir");
    let mut store = crate::store::Store::open(&pair.store_file()).expect("store");
    let infos: Vec<PeerInfo> = ids
        .iter()
        .map(|id| PeerInfo {
            id: *id,
            name: "Agent",
            model: if *id == CODEX {
                DeliveryModel::Turn
            } else {
                DeliveryModel::Push
            },
            optional: false,
        })
        .collect();
    for p in &infos {
        store.register_peer(p.id, Some(p.model)).expect("register");
    }
    let mut config = Config::default();
    config.settings.routing_relay = relay.into();
    config.settings.routing_default_to = default_to.into();
    Core::new(pair, config, store, infos, Vec::new())
}

fn three(dir: &std::path::Path) -> Arc<Core> {
    core_with(dir, &[CLAUDE, CODEX, THIRD], "all", "claude")
}

fn addr(names: &[&str], rest: &str) -> Option<Address> {
    Some(Address {
        names: names.iter().map(|n| n.to_string()).collect(),
        rest: rest.into(),
    })
}

fn relay_to(route: &Route) -> (Vec<PeerId>, &str, Option<Why>) {
    match route {
        Route::Relay { to, text, why, .. } => (to.clone(), text.as_str(), Some(*why)),
        Route::NotRelayed { reason } => (Vec::new(), reason.as_str(), None),
    }
}

#[test]
fn addresses_parse_as_a_leading_line_or_prefix() {
    assert_eq!(
        parse_address("@codex\nplease look"),
        addr(&["codex"], "please look")
    );
    assert_eq!(parse_address("  \n@Codex: look"), addr(&["codex"], "look"));
    assert_eq!(
        parse_address("@codex look\nmore"),
        addr(&["codex"], "look\nmore")
    );
    assert_eq!(
        parse_address("@codex, @THIRD\nhi"),
        addr(&["codex", "third"], "hi")
    );
    assert_eq!(
        parse_address("@codex @third hi"),
        addr(&["codex", "third"], "hi")
    );
    assert_eq!(
        parse_address("@codex, third\nhi"),
        addr(&["codex", "third"], "hi")
    );
    assert_eq!(parse_address("@all\r\nhi"), addr(&["all"], "hi"));
    assert_eq!(parse_address("@codex @codex\nhi"), addr(&["codex"], "hi"));
    // Not an address: no leading @, a bare @, a possessive, mid-text.
    for text in [
        "codex, look",
        "@ 5pm",
        "@codex's idea",
        "see @codex",
        "",
        "@",
        "@1x",
    ] {
        assert_eq!(parse_address(text), None, "{text:?}");
    }
}

#[test]
fn two_agents_with_defaults_route_exactly_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core_with(dir.path(), &[CLAUDE, CODEX], "all", "claude");
    for answered in [None, Some(PeerId::HUMAN), Some(CLAUDE), Some(PeerId::ABG)] {
        let route = recipients(&core, CODEX, answered, "done");
        assert_eq!(relay_to(&route).0, vec![CLAUDE], "{answered:?}");
        assert_eq!(relay_to(&route).1, "done");
    }
    // Claude's side (default_to is Claude itself): the only other agent.
    assert_eq!(
        relay_to(&recipients(&core, CLAUDE, None, "x")).0,
        vec![CODEX]
    );
    assert_eq!(
        reply_recipients(&core, CLAUDE, None, None).expect("default"),
        vec![CODEX]
    );
}

#[test]
fn an_address_overrides_and_is_stripped_never_to_self() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = three(dir.path());
    let r = recipients(&core, CODEX, Some(CLAUDE), "@third\nfor you");
    assert_eq!(relay_to(&r), (vec![THIRD], "for you", Some(Why::Addressed)));
    let r = recipients(&core, CODEX, None, "@all: everyone");
    assert_eq!(
        relay_to(&r),
        (vec![CLAUDE, THIRD], "everyone", Some(Why::Addressed))
    );
    let r = recipients(&core, CODEX, None, "@codex @third hi");
    assert_eq!(relay_to(&r).0, vec![THIRD]);
    // Nothing after the address: what was written is sent.
    let r = recipients(&core, CODEX, None, "@third\n  ");
    assert_eq!(
        relay_to(&r),
        (vec![THIRD], "@third\n  ", Some(Why::Addressed))
    );
    // Only itself: the address says nothing; the usual rules apply.
    let r = recipients(&core, CODEX, Some(THIRD), "@codex\nhi");
    assert_eq!(relay_to(&r), (vec![THIRD], "hi", Some(Why::Answers)));
    // An address wins over relay = addressed.
    let core2 = core_with(
        tempfile::tempdir().expect("t").path(),
        &[CLAUDE, CODEX, THIRD],
        "addressed",
        "claude",
    );
    assert_eq!(
        relay_to(&recipients(&core2, CODEX, None, "@claude hi")).0,
        vec![CLAUDE]
    );
}

#[test]
fn unknown_names_are_not_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = three(dir.path());
    match recipients(&core, CODEX, None, "@nobody\nhello") {
        Route::Relay {
            to, text, unknown, ..
        } => {
            assert_eq!(to, vec![CLAUDE], "the default");
            assert_eq!(text, "@nobody\nhello", "sent unchanged");
            assert_eq!(unknown, vec!["nobody".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    match recipients(&core, CODEX, None, "@third, @nobody hi") {
        Route::Relay { to, unknown, .. } => {
            assert_eq!(to, vec![THIRD]);
            assert_eq!(unknown, vec!["nobody".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    // Even with relay = addressed, an answer with only unknown names goes
    // to the default rather than nowhere.
    let dir2 = tempfile::tempdir().expect("tempdir");
    let strict = core_with(dir2.path(), &[CLAUDE, CODEX, THIRD], "addressed", "claude");
    assert_eq!(
        relay_to(&recipients(&strict, CODEX, None, "@nobody hi")).0,
        vec![CLAUDE]
    );
}

#[test]
fn answers_go_back_to_the_agent_that_started_the_turn() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = three(dir.path());
    let r = recipients(&core, CODEX, Some(THIRD), "answer");
    assert_eq!(relay_to(&r), (vec![THIRD], "answer", Some(Why::Answers)));
    // The human (or abg, or nobody known) started it: the default.
    for answered in [None, Some(PeerId::HUMAN), Some(PeerId::ABG), Some(CODEX)] {
        let r = recipients(&core, CODEX, answered, "answer");
        assert_eq!(relay_to(&r).0, vec![CLAUDE], "{answered:?}");
        assert_eq!(relay_to(&r).2, Some(Why::Default));
    }
    // default_to is the sender itself: every other agent.
    assert_eq!(
        relay_to(&recipients(&core, CLAUDE, None, "x")).0,
        vec![CODEX, THIRD]
    );
}

#[test]
fn relay_addressed_drops_human_started_answers_with_a_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = core_with(dir.path(), &[CLAUDE, CODEX, THIRD], "addressed", "claude");
    match recipients(&core, CODEX, Some(PeerId::HUMAN), "answer") {
        Route::NotRelayed { reason } => assert!(reason.contains("addressed"), "{reason}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        relay_to(&recipients(&core, CODEX, Some(THIRD), "a")).0,
        vec![THIRD]
    );
    // relay() records it once per source item, stores nothing.
    let base = NewMessage {
        source_item_id: Some("item-1".into()),
        ..NewMessage::new(CODEX, CLAUDE, "answer")
    };
    for _ in 0..2 {
        let r = relay(&core, None, base.clone()).expect("relay");
        assert!(r.stored.is_empty());
        assert!(r.not_relayed.is_some());
    }
    let events = core.with_store(|s| s.events_after(0, 100)).expect("events");
    let dropped: Vec<_> = events
        .iter()
        .filter(|e| e.kind == "routing.not_relayed")
        .collect();
    assert_eq!(dropped.len(), 1, "{events:?}");
    assert_eq!(dropped[0].data["text"], "answer");
}

#[test]
fn relay_stores_one_message_per_recipient_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = three(dir.path());
    let base = NewMessage {
        source_item_id: Some("item-9".into()),
        ..NewMessage::new(CODEX, CLAUDE, "@all\nto both")
    };
    let first = relay(&core, None, base.clone()).expect("relay");
    let again = relay(&core, None, base).expect("replay");
    let ids = |r: &Relayed| -> Vec<(String, PeerId, bool)> {
        r.stored
            .iter()
            .map(|(m, f)| (m.id.clone(), m.to, *f))
            .collect()
    };
    let (a, b) = (ids(&first), ids(&again));
    assert_eq!(a.len(), 2);
    assert_eq!((a[0].1, a[1].1), (CLAUDE, THIRD));
    assert!(
        a.iter().all(|x| x.2) && b.iter().all(|x| !x.2),
        "{a:?} {b:?}"
    );
    assert_eq!(
        (a[0].0.clone(), a[1].0.clone()),
        (b[0].0.clone(), b[1].0.clone())
    );
    assert_eq!(
        first.stored[1].0.source_item_id.as_deref(),
        Some("item-9#third")
    );
    assert_eq!(first.stored[0].0.body, "to both");
}

#[test]
fn an_unknown_name_tells_the_sender_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = three(dir.path());
    let base = NewMessage {
        source_item_id: Some("item-u".into()),
        ..NewMessage::new(CODEX, CLAUDE, "@nobody hi")
    };
    relay(&core, None, base.clone()).expect("relay");
    relay(&core, None, base).expect("replay");
    let notices = core
        .with_store(|s| s.pending_for(CODEX, 100))
        .expect("queue");
    assert_eq!(notices.len(), 1, "{notices:?}");
    let n = &notices[0].message;
    assert_eq!((n.from, n.kind), (PeerId::ABG, MessageKind::Notice));
    assert!(
        n.body.contains("@nobody") && n.body.contains("@third"),
        "{}",
        n.body
    );
}

#[test]
fn tool_replies_resolve_to_in_reply_to_newest_sender_or_ask() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = three(dir.path());
    // Nobody wrote to Claude, two others: default_to is Claude itself → ask.
    let err = reply_recipients(&core, CLAUDE, None, None).expect_err("ambiguous");
    assert!(
        err.to_string().contains("`to`") && err.to_string().contains("third"),
        "{err}"
    );
    let (m, _) = core
        .insert(&NewMessage::new(THIRD, CLAUDE, "from third"))
        .expect("insert");
    assert_eq!(
        reply_recipients(&core, CLAUDE, None, None).expect("newest"),
        vec![THIRD]
    );
    let (c, _) = core
        .insert(&NewMessage::new(CODEX, CLAUDE, "from codex"))
        .expect("insert");
    assert_eq!(
        reply_recipients(&core, CLAUDE, None, None).expect("newest"),
        vec![CODEX]
    );
    assert_eq!(
        reply_recipients(&core, CLAUDE, None, Some(&m.id)).expect("in_reply_to"),
        vec![THIRD]
    );
    assert_eq!(
        reply_recipients(&core, CLAUDE, None, Some(&c.id)).expect("in_reply_to"),
        vec![CODEX]
    );
    assert_eq!(
        reply_recipients(&core, CLAUDE, Some("all"), None).expect("all"),
        vec![CODEX, THIRD]
    );
    assert_eq!(
        reply_recipients(&core, CLAUDE, Some("@Third"), None).expect("to"),
        vec![THIRD]
    );
    for bad in ["claude", "human", "nobody"] {
        let err = reply_recipients(&core, CLAUDE, Some(bad), None).expect_err(bad);
        assert!(err.to_string().contains("codex, third, all"), "{err}");
    }
    // Codex's side: default_to (Claude) when nothing else says.
    assert_eq!(
        reply_recipients(&core, CODEX, None, None).expect("d"),
        vec![CLAUDE]
    );
}

#[test]
fn default_to_is_checked_against_the_peers() {
    assert!(check_default("claude", &[CLAUDE, CODEX]).is_ok());
    let err = check_default("opencode", &[CLAUDE, CODEX]).expect_err("not a peer");
    assert!(
        err.contains("routing.default_to") && err.contains("claude, codex"),
        "{err}"
    );
}
