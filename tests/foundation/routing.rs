//! Routing with a third agent (issue 18), in an in-process daemon serving
//! the real adapters plus a test-only `third` peer: an `@third` line from
//! Codex's side reaches the third, an answer to the third's message goes
//! back to it, `routing.relay = addressed` drops a human-started answer and
//! records why, `abg send --to all` fans out, the loop governor pauses a
//! three-way loop, the kickoff introduces the late third exactly once, and an
//! optional peer takes part once it converses (and after a restart).

use std::sync::Arc;

use abg::config::Config;
use abg::control::client::Client;
use abg::control::protocol::{Role, SendRequest};
use abg::daemon::core::{Core, CoreError};
use abg::daemon::peer::{Peer, PeerResult};
use abg::daemon::routing;
use abg::store::types::{DeliveryModel, DeliveryState, Message, MessageKind, NewMessage, PeerId};

use crate::in_process;

const THIRD: PeerId = PeerId::from_static("third");
const CLAUDE: PeerId = PeerId::from_static("claude");
const CODEX: PeerId = PeerId::from_static("codex");

/// A third agent that only takes pushed messages (nobody attaches it to a
/// worker here: its queue is read from the store).
struct Third;

impl Peer for Third {
    fn id(&self) -> PeerId {
        THIRD
    }

    fn name(&self) -> &'static str {
        "Third"
    }

    fn kickoff(&self) -> &'static str {
        "You are the third agent of this pair."
    }

    fn model(&self) -> DeliveryModel {
        DeliveryModel::Push
    }

    fn answer(&self, _core: &Core, _request: serde_json::Value) -> PeerResult {
        Err(CoreError::Invalid("the third takes no requests".into()))
    }
}

fn queue(core: &Core, peer: PeerId) -> Vec<Message> {
    core.with_store(|s| s.pending_for(peer, 1000))
        .expect("queue")
        .into_iter()
        .map(|p| p.message)
        .collect()
}

fn events(core: &Core, kind: &str) -> Vec<serde_json::Value> {
    core.with_store(|s| s.events_after(0, 10_000))
        .expect("events")
        .into_iter()
        .filter(|e| e.kind == kind)
        .map(|e| e.data)
        .collect()
}

/// What Codex's ingest hands routing for a completed agent message.
fn codex_says(item: &str, turn: &str, text: &str) -> NewMessage {
    NewMessage {
        turn_id: Some(turn.into()),
        source_item_id: Some(item.into()),
        ..NewMessage::new(CODEX, CLAUDE, text)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_line_from_codex_reaches_the_third_and_answers_go_back() {
    let d = in_process::start(Arc::new(Third), Config::default()).await;
    let core = Arc::clone(&d.core);

    // `@third` from Codex's side, in a turn the human started.
    let r = routing::relay(
        &core,
        Some(PeerId::HUMAN),
        codex_says("item-1", "turn-1", "@third\nplease check the parser"),
    )
    .expect("relay");
    assert_eq!(r.stored.len(), 1);
    let m = &r.stored[0].0;
    assert_eq!((m.from, m.to), (CODEX, THIRD));
    assert_eq!(m.body, "please check the parser");
    assert!(queue(&core, THIRD).iter().any(|q| q.id == m.id));
    assert!(queue(&core, CLAUDE).iter().all(|q| q.from != CODEX));

    // The third writes to Codex; Codex's turn takes it (its delivery
    // records the turn id, as the Codex link does) and Codex answers
    // without an address: the answer goes back to the third.
    let from_third = core
        .send(SendRequest {
            from: THIRD,
            to: CODEX,
            body: "what did you find?".into(),
            on_busy: None,
            in_reply_to: None,
            idempotency_key: None,
        })
        .expect("send");
    core.transition(
        &from_third.message_id,
        CODEX,
        DeliveryState::Started,
        None,
        Some("turn-2"),
    )
    .expect("started");
    let starter = core
        .with_store(|s| s.first_of_turn(CODEX, "turn-2"))
        .expect("lookup")
        .expect("the turn's first message");
    assert_eq!(starter.id, from_third.message_id);
    let answer = codex_says("item-2", "turn-2", "two bugs, both in the lexer");
    let r = routing::relay(&core, Some(starter.from), answer.clone()).expect("relay");
    assert_eq!(r.stored.len(), 1);
    assert_eq!(r.stored[0].0.to, THIRD);
    // A replay of the same item (catch-up after a restart) stores nothing new.
    let again = routing::relay(&core, Some(starter.from), answer).expect("replay");
    assert!(!again.stored[0].1);
    assert_eq!(again.stored[0].0.id, r.stored[0].0.id);

    // A turn the human started, no address: Claude (routing.default_to),
    // as with two agents.
    let r = routing::relay(&core, None, codex_says("item-3", "turn-3", "done")).expect("relay");
    assert_eq!(r.stored[0].0.to, CLAUDE);

    // @all: one message per other agent, each exactly once.
    let all = codex_says("item-4", "turn-4", "@all: heads up");
    let r = routing::relay(&core, None, all.clone()).expect("relay");
    let to: Vec<PeerId> = r.stored.iter().map(|(m, _)| m.to).collect();
    assert_eq!(to, vec![CLAUDE, THIRD]);
    let again = routing::relay(&core, None, all).expect("replay");
    assert!(again.stored.iter().all(|(_, fresh)| !fresh));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_addressed_drops_a_human_started_answer_and_records_why() {
    let mut config = Config::default();
    config.settings.routing_relay = "addressed".into();
    let d = in_process::start(Arc::new(Third), config).await;
    let core = Arc::clone(&d.core);
    let before = queue(&core, CLAUDE).len();
    let r = routing::relay(
        &core,
        Some(PeerId::HUMAN),
        codex_says("item-h", "turn-h", "the tests pass"),
    )
    .expect("relay");
    assert!(r.stored.is_empty());
    let why = r.not_relayed.expect("a reason");
    assert!(why.contains("addressed"), "{why}");
    assert_eq!(
        queue(&core, CLAUDE).len(),
        before,
        "nothing stored for Claude"
    );
    let dropped = events(&core, "routing.not_relayed");
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0]["from"], "codex");
    assert_eq!(dropped[0]["text"], "the tests pass");
    assert!(
        dropped[0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("addressed"))
    );
    // An addressed answer still goes through.
    let r = routing::relay(
        &core,
        Some(PeerId::HUMAN),
        codex_says("item-h2", "turn-h", "@claude the tests pass"),
    )
    .expect("relay");
    assert_eq!(r.stored[0].0.to, CLAUDE);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_to_all_fans_out_one_message_per_agent() {
    let d = in_process::start(Arc::new(Third), Config::default()).await;
    let client = Client::new(d.port, d.secret.clone());
    let sent = abg::cli::send::send_to(&client, "all", "stand-up in five", None)
        .await
        .expect("send --to all");
    let to: Vec<&str> = sent.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(to, vec!["claude", "codex", "third"]);
    let states: Vec<&str> = sent.iter().map(|(_, r)| r.state.as_str()).collect();
    assert_eq!(states, vec!["stored", "queued", "stored"]);
    let ids: std::collections::HashSet<_> = sent.iter().map(|(_, r)| &r.message_id).collect();
    assert_eq!(ids.len(), 3, "one stored message each");
    for (peer, r) in &sent {
        let q = queue(&d.core, *peer);
        assert!(q.iter().any(|m| m.id == r.message_id), "{peer}");
    }
    // One peer by id; --on-busy only where a turn runs; unknown names listed.
    let one = abg::cli::send::send_to(&client, "Third", "just you", None)
        .await
        .expect("send --to third");
    assert_eq!(one.len(), 1);
    let err = abg::cli::send::send_to(
        &client,
        "third",
        "x",
        Some(abg::control::protocol::OnBusy::Steer),
    )
    .await
    .expect_err("on_busy for a push peer only");
    assert!(err.to_string().contains("--on-busy"), "{err}");
    let err = abg::cli::send::send_to(&client, "nobody", "x", None)
        .await
        .expect_err("unknown");
    assert!(
        err.to_string().contains("claude, codex, opencode, third"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_governor_pauses_a_three_way_loop() {
    let mut config = Config::default();
    config.settings.governor_max_exchanges = 4;
    let d = in_process::start(Arc::new(Third), config).await;
    let core = Arc::clone(&d.core);
    let lanes = [(CODEX, THIRD), (THIRD, CLAUDE), (CLAUDE, CODEX)];
    let mut states = Vec::new();
    for n in 0..6 {
        let (from, to) = lanes[n % 3];
        let (m, _) = core
            .insert(&NewMessage::new(from, to, format!("step {n} of the plan")))
            .expect("insert");
        let d = core
            .with_store(|s| s.deliveries_for(&m.id))
            .expect("delivery");
        states.push(d[0].state);
    }
    let held = states.iter().filter(|s| **s == DeliveryState::Held).count();
    assert_eq!(held, 2, "the 5th and 6th are held: {states:?}");
    assert_eq!(events(&core, "governor_paused").len(), 1);
    // Every agent, the third included, is told.
    for peer in [CLAUDE, CODEX, THIRD] {
        let told = queue(&core, peer)
            .into_iter()
            .any(|m| m.kind == MessageKind::Notice && m.body.contains("paused"));
        assert!(told, "{peer} was not told of the pause");
    }
    // The same answer fanned out to two agents is not a repeat of itself.
    abg::daemon::governor::resume(&core).expect("resume");
    let r = routing::relay(
        &core,
        None,
        codex_says("item-f", "t", "@all: ship it on Monday"),
    )
    .expect("relay");
    for (m, _) in &r.stored {
        let d = core.with_store(|s| s.deliveries_for(&m.id)).expect("d");
        assert_ne!(d[0].state, DeliveryState::Failed, "{m:?} was damped");
        assert_eq!(d[0].state, core.initial_state(m.to));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kickoff_introduces_a_late_third_once() {
    let d = in_process::start(Arc::new(Third), Config::default()).await;
    let core = Arc::clone(&d.core);
    let notices = |peer| -> Vec<Message> {
        core.with_store(|s| s.messages_after(0, 10_000))
            .expect("messages")
            .into_iter()
            .filter(|m| m.to == peer && m.kind == MessageKind::Notice)
            .collect()
    };
    let claude = core.attach(Role::Peer(CLAUDE));
    let codex = core.attach(Role::Peer(CODEX));
    assert_eq!(notices(CLAUDE).len(), 1);
    assert_eq!(notices(CODEX).len(), 1);
    assert!(notices(THIRD).is_empty());
    assert!(events(&core, "kickoff.joined").is_empty());
    // The third attaches later: its own notice, and each agent attached
    // with it learns once that it joined.
    let third = core.attach(Role::Peer(THIRD));
    assert_eq!(notices(THIRD).len(), 1);
    for peer in [CLAUDE, CODEX] {
        let n = notices(peer);
        assert_eq!(n.len(), 2, "{peer}: {n:?}");
        assert!(n[1].body.contains("@third"), "{}", n[1].body);
    }
    // Reconnects add nothing.
    drop((claude, codex, third));
    let _again = [CLAUDE, CODEX, THIRD].map(|p| core.attach(Role::Peer(p)));
    assert_eq!(notices(CLAUDE).len(), 2);
    assert_eq!(notices(CODEX).len(), 2);
    assert_eq!(notices(THIRD).len(), 1);
    assert_eq!(events(&core, "kickoff.joined").len(), 2);
}

/// An optional peer (OpenCode) takes part once it is in the conversation,
/// not for abg's notices to it, and a daemon started over the same store
/// knows it from the start (the answer is kept in memory, never a scan).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_optional_peer_takes_part_once_it_converses_and_after_a_restart() {
    let d = in_process::start(Arc::new(Third), Config::default()).await;
    let opencode = PeerId::from_static("opencode");
    assert!(!d.core.takes_part(opencode), "never ran");
    assert!(d.core.takes_part(CLAUDE) && d.core.takes_part(CODEX));
    let notice = NewMessage {
        kind: MessageKind::Notice,
        ..NewMessage::new(PeerId::ABG, opencode, "a notice")
    };
    d.core.insert(&notice).expect("notice");
    assert!(!d.core.takes_part(opencode), "a notice does not count");
    let restarted = |core: &Core| {
        let store = abg::store::Store::open(&core.pair().store_file()).expect("store");
        Core::new(
            core.pair().clone(),
            Config::default(),
            store,
            core.peers().to_vec(),
            Vec::new(),
        )
    };
    assert!(!restarted(&d.core).takes_part(opencode));
    d.core
        .insert(&NewMessage::new(CLAUDE, opencode, "a review, please"))
        .expect("message");
    assert!(d.core.takes_part(opencode), "addressed by a peer");
    assert!(restarted(&d.core).takes_part(opencode), "known at boot");
}
