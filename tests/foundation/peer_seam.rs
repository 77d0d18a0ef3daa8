//! The peer seam holds a third peer: a test-only fake, registered beside
//! the real Claude and Codex adapters with one line, attaches on the
//! control port like any peer, receives a message through the same port
//! (stored first, pushed by its own worker, acknowledged through its own
//! requests) and sends one to Claude, which lands in Claude's queue — with
//! no change anywhere in the daemon.

use std::sync::Arc;
use std::time::Duration;

use abg::claude::wsclient::ControlLink;
use abg::config::Config;
use abg::control::protocol::{OutcomeCode, PeerMessage, Role, SendRequest, ServerFrame};
use abg::daemon::core::{Core, CoreError};
use abg::daemon::peer::{Peer, PeerResult};
use abg::store::types::{DeliveryModel, DeliveryState, PeerId};
use futures_util::future::BoxFuture;
use tokio::sync::mpsc;

use crate::in_process;

const FAKE: PeerId = PeerId::from_static("fake");
const CLAUDE: PeerId = PeerId::from_static("claude");

/// A peer that pushes each stored message as a `deliver` frame and takes
/// `{"ack": [ids]}` requests, the way a channel-style agent would.
struct FakePeer;

impl Peer for FakePeer {
    fn id(&self) -> PeerId {
        FAKE
    }

    fn name(&self) -> &'static str {
        "Fake"
    }

    fn kickoff(&self) -> &'static str {
        "You are paired with the others through abg."
    }

    fn model(&self) -> DeliveryModel {
        DeliveryModel::Push
    }

    fn answer(&self, core: &Core, request: serde_json::Value) -> PeerResult {
        let ids: Vec<String> = serde_json::from_value(request["ack"].clone())
            .map_err(|e| CoreError::Invalid(format!("not a fake request: {e}")))?;
        core.transition_many(
            &ids,
            FAKE,
            DeliveryState::Acknowledged,
            Some("acknowledged by the fake"),
            |s| s == DeliveryState::Pushed,
        )?;
        Ok(serde_json::json!({ "acked": ids.len() }))
    }

    fn attached(
        self: Arc<Self>,
        core: Arc<Core>,
        out: mpsc::Sender<ServerFrame>,
    ) -> Option<BoxFuture<'static, ()>> {
        Some(Box::pin(async move {
            loop {
                let rows = core
                    .with_store(|s| s.pending_for(FAKE, 100))
                    .unwrap_or_default();
                for p in rows
                    .into_iter()
                    .filter(|p| p.delivery.state == DeliveryState::Stored)
                {
                    let m = p.message;
                    let frame = ServerFrame::Deliver {
                        message: Box::new(PeerMessage {
                            id: m.id.clone(),
                            from: m.from,
                            body: m.body,
                            created_ms: m.created_ms,
                            thread_id: None,
                            turn_id: None,
                            in_reply_to: None,
                        }),
                    };
                    if out.send(frame).await.is_err() {
                        return;
                    }
                    let _ = core.transition(&m.id, FAKE, DeliveryState::Pushed, None, None);
                }
                let Some(wake) = core.bus().notify(FAKE) else {
                    return;
                };
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = out.closed() => return,
                }
            }
        }))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fake_third_peer_receives_and_sends_through_the_same_port() {
    // The one registration line is in `in_process::start`: the real
    // adapters, plus the fake.
    let d = in_process::start(Arc::new(FakePeer), Config::default()).await;
    let (core, port, secret) = (Arc::clone(&d.core), d.port, d.secret.clone());

    // The fake attaches as itself on the control port.
    let (fake, mut deliveries) = ControlLink::connect(port, &secret, Role::Peer(FAKE))
        .await
        .expect("the fake attaches");
    let status = core.status();
    assert!(status.peers["fake"].attached, "{status:?}");
    assert_eq!(status.peers["fake"].name, "Fake");

    // A human message to the fake: stored, pushed by the fake's worker,
    // acknowledged through the fake's own request; the sender sees it
    // delivered.
    let (human, _) = ControlLink::connect(port, &secret, Role::Cli)
        .await
        .expect("cli");
    let send = tokio::spawn(async move {
        human
            .send(
                SendRequest {
                    from: PeerId::HUMAN,
                    to: FAKE,
                    body: "hello, fake".into(),
                    on_busy: None,
                    in_reply_to: None,
                    idempotency_key: None,
                },
                10_000,
                Duration::from_secs(10),
            )
            .await
    });
    let got = tokio::time::timeout(Duration::from_secs(10), deliveries.recv())
        .await
        .expect("a push within 10 s")
        .expect("the push");
    assert_eq!(got.body, "hello, fake");
    assert_eq!(got.from, PeerId::HUMAN);
    let answer = fake
        .peer(
            FAKE,
            serde_json::json!({ "ack": [got.id.clone()] }),
            Duration::from_secs(5),
        )
        .await
        .expect("the fake's own request");
    assert_eq!(answer["acked"], 1);
    let sent = send.await.expect("join").expect("send");
    assert_eq!(sent.message_id, got.id);
    assert_eq!(
        sent.outcome.map(|o| o.code),
        Some(OutcomeCode::Delivered),
        "the human's send settles as delivered"
    );

    // The fake answers Claude: stored for Claude, in Claude's queue.
    let reply = fake
        .send(
            SendRequest {
                from: FAKE,
                to: CLAUDE,
                body: "a word for Claude from the fake".into(),
                on_busy: None,
                in_reply_to: Some(got.id.clone()),
                idempotency_key: None,
            },
            0,
            Duration::from_secs(5),
        )
        .await
        .expect("the fake sends");
    let queued = core
        .with_store(|s| s.pending_for(CLAUDE, 100))
        .expect("claude's queue");
    let mine = queued
        .iter()
        .find(|p| p.message.id == reply.message_id)
        .expect("the fake's message waits for Claude");
    assert_eq!(mine.message.from, FAKE);
    assert_eq!(mine.delivery.state, DeliveryState::Stored);
    // No push went back to the fake for its own message.
    assert!(deliveries.try_recv().is_err());

    // A peer the pair does not have is refused, by name.
    let unknown: PeerId = "nobody".parse().expect("id");
    let err = ControlLink::connect(port, &secret, Role::Peer(unknown))
        .await
        .err()
        .expect("an unknown peer cannot attach");
    assert!(err.to_string().contains("no peer \"nobody\""), "{err}");
}
