//! The page with a third peer, in headless Chromium against an in-process
//! daemon that registers a fake `third` beside Claude and Codex: the
//! status bar has one chip per peer in registration order, the composer
//! offers every peer and "all" (the busy policy only where a peer runs
//! turns), a send to "all" from the page stores one message per peer and
//! shows as one bubble with each recipient's state (kept live per
//! recipient), so does an agent's `@all` (on the agent's side), copies
//! the daemon cannot tell are one send stay separate
//! bubbles naming their recipient, the approvals panel names the third
//! peer as the daemon does, and the pair's events fold into one activity
//! line per run that opens on click or Enter. Saves `target/ui-three.png`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use abg::config::Config;
use abg::control::protocol::SendRequest;
use abg::daemon::core::{Core, CoreError};
use abg::daemon::peer::{Peer, PeerResult};
use abg::store::types::{
    ApprovalKind, DeliveryModel, DeliveryState, NewApproval, NewMessage, PeerId,
};
use serde_json::{Value, json};

use crate::open_page;
use crate::{in_process, webdriver};

const THIRD: PeerId = PeerId::from_static("third");

/// A third agent that only receives (no worker: it never attaches).
struct Third;

impl Peer for Third {
    fn id(&self) -> PeerId {
        THIRD
    }

    fn name(&self) -> &'static str {
        "Third"
    }

    fn kickoff(&self) -> &'static str {
        "You are paired with the others through abg."
    }

    fn model(&self) -> DeliveryModel {
        DeliveryModel::Push
    }

    fn answer(&self, _core: &Core, _request: Value) -> PeerResult {
        Err(CoreError::Invalid("the third takes no requests".into()))
    }
}

fn human_to(core: &Core, to: &str, body: &str) -> String {
    let sent = core
        .send(SendRequest {
            from: PeerId::HUMAN,
            to: to.parse().expect("peer"),
            body: body.into(),
            on_busy: None,
            in_reply_to: None,
            idempotency_key: None,
        })
        .expect("sent");
    sent.message_id
}

/// Let the clock move so rows sort by time, not by tie-break.
fn tick() {
    std::thread::sleep(Duration::from_millis(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_in_headless_chromium() {
    let required = std::env::var("ABG_E2E_REQUIRED").is_ok_and(|v| v == "1");
    let Some((chromium, chromedriver)) = webdriver::find_browser() else {
        assert!(
            !required,
            "chromium and chromedriver are required (ABG_E2E_REQUIRED=1)"
        );
        println!("skipping the three-peer page: chromium/chromedriver not installed");
        return;
    };
    let d = in_process::start(Arc::new(Third), Config::default()).await;
    let core = &d.core;

    // History: a run of three events (one an approval request), a
    // message, one more event.
    core.record_approval(NewApproval {
        peer: THIRD,
        request_key: "k-1".into(),
        kind: ApprovalKind::Command,
        detail: json!({"command": "cargo test <b>x</b>"}),
        options: None,
        expires_ms: None,
    })
    .expect("approval");
    tick();
    core.record_event("codex.turn.started", json!({"turn_id": "t1"}))
        .expect("event");
    tick();
    core.record_event(
        "codex.turn.completed",
        json!({"turn_id": "t1", "status": "<i>completed</i>"}),
    )
    .expect("event");
    tick();
    let between = human_to(core, "codex", "between the runs");
    tick();
    core.record_event("routing.not_relayed", json!({"reason": "addressed"}))
        .expect("event");
    tick();

    let (_driver, b, _tmp) = open_page(&d, &chromium, &chromedriver).await;
    let t = Duration::from_secs(20);

    // One chip per peer, in the daemon's order.
    let chips = "return [...document.querySelectorAll('#st-peers .pill')] \
        .map(p => [p.dataset.peer, p.textContent.split(':')[0], p.dataset.queued])";
    assert_eq!(
        b.js(chips, json!([])).await,
        json!([
            ["claude", "Claude", "0"],
            ["codex", "Codex", "1"],
            ["third", "Third", "0"]
        ])
    );
    // The composer: every peer, then all; the busy policy where turns run.
    let options = "const to = document.getElementById('to'); \
        return [[...to.options].map(o => o.value), to.value]";
    assert_eq!(
        b.js(options, json!([])).await,
        json!([["claude", "codex", "third", "all"], "codex"])
    );
    let policy_for = "const to = document.getElementById('to'); to.value = arguments[0]; \
        to.dispatchEvent(new Event('change')); \
        return [document.getElementById('on-busy').disabled, \
                document.getElementById('on-busy-label').textContent]";
    assert_eq!(
        b.js(policy_for, json!(["third"])).await,
        json!([true, "If busy (not for Third)"])
    );
    assert_eq!(
        b.js(policy_for, json!(["codex"])).await,
        json!([false, "If Codex is busy"])
    );
    // The approvals panel names the third peer as the daemon does.
    b.wait_js(
        "the approval row",
        t,
        "const w = document.querySelector('#ap-list .ap-who'); return !!w && w.textContent === 'Third'",
        json!([]),
    )
    .await;
    // Sides and colours by registration order.
    let look = "const e = document.getElementById('m-' + arguments[0]); \
        return [e.dataset.side, e.className, e.querySelector('.who').textContent]";
    assert_eq!(
        b.js(look, json!([between])).await,
        json!(["human", "msg side-human", "You → Codex"])
    );

    // The events are folded: one line per run, closed, saying what ran.
    let folded = "return [...document.querySelectorAll('#items .activity')].map(a => { \
        const b = a.querySelector('button'); \
        const rows = []; \
        for (let n = a.nextElementSibling; n && n.classList.contains('event'); n = n.nextElementSibling) rows.push(n); \
        return [b.textContent, b.getAttribute('aria-expanded'), rows.map(r => r.dataset.kind), \
                rows.every(r => r.hidden), (b.getAttribute('aria-controls') || '').split(' ').length]; })";
    assert_eq!(
        b.js(folded, json!([])).await,
        json!([
            [
                "▸ 3 events · 1 approval · Codex turn completed",
                "false",
                [
                    "approval.requested",
                    "codex.turn.started",
                    "codex.turn.completed"
                ],
                true,
                3
            ],
            [
                "▸ 1 event · routing not relayed",
                "false",
                ["routing.not_relayed"],
                true,
                1
            ]
        ])
    );
    let no_markup = "return document.querySelectorAll('#items i, #items b').length";
    assert_eq!(b.js(no_markup, json!([])).await, json!(0));
    b.click("#items .activity button").await;
    let opened = "const a = document.querySelector('#items .activity'); \
        const rows = [a.nextElementSibling, a.nextElementSibling.nextElementSibling]; \
        return [a.querySelector('button').getAttribute('aria-expanded'), rows.map(r => r.hidden), \
                document.activeElement === a.querySelector('button')]";
    assert_eq!(
        b.js(opened, json!([])).await,
        json!(["true", [false, false], true])
    );
    b.wait_js(
        "the stream to connect",
        t,
        "return document.getElementById('st-conn').dataset.state === 'live'",
        json!([]),
    )
    .await;
    // A live event joins the last run and its line counts it.
    core.record_event("third.link.up", json!({}))
        .expect("event");
    b.wait_js(
        "a live event folded in",
        t,
        "const all = document.querySelectorAll('#items .activity button'); \
         return all.length === 2 && all[1].textContent === '▸ 2 events · Third link up'",
        json!([]),
    )
    .await;

    // The keyboard opens a line too (Enter on the focused button).
    b.type_into("#items div.activity:last-of-type button", "\u{E007}")
        .await;
    b.wait_js(
        "the last run opened by keyboard",
        t,
        "const a = [...document.querySelectorAll('#items .activity')].pop(); \
         const r = a.nextElementSibling; \
         return a.querySelector('button').getAttribute('aria-expanded') === 'true' && !r.hidden \
             && !r.nextElementSibling.hidden",
        json!([]),
    )
    .await;

    // Send to all from the page: one message per peer, one bubble.
    b.js(
        "const to = document.getElementById('to'); to.value = 'all'; \
         to.dispatchEvent(new Event('change')); return 0",
        json!([]),
    )
    .await;
    assert_eq!(
        b.js(
            "return document.getElementById('on-busy').disabled",
            json!([])
        )
        .await,
        json!(false)
    );
    let body = "to everyone: status please";
    b.type_into("#body", body).await;
    b.click("#send").await;
    let deadline = Instant::now() + t;
    let stored = loop {
        let mut got: Vec<(String, String, String)> = Vec::new();
        for m in core.messages_after(0, 1000).expect("messages").messages {
            if m.body == body {
                assert_eq!(m.from, "human");
                got.push((
                    m.to.clone(),
                    m.id.clone(),
                    m.state.clone().unwrap_or_default(),
                ));
            }
        }
        if got.len() == 3 || Instant::now() > deadline {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let tos: Vec<&str> = stored.iter().map(|(to, _, _)| to.as_str()).collect();
    assert_eq!(tos, ["claude", "codex", "third"], "one message per peer");
    let bubble = "const e = document.getElementById('m-' + arguments[0]); \
        return e ? [e.dataset.fanout, e.dataset.to, e.querySelector('.who').textContent, \
                    [...e.querySelectorAll('.rcpt')].map(c => [c.dataset.to, \
                        c.querySelector('.rcpt-name').textContent, c.dataset.state])] : null";
    let first = &stored[0].1;
    b.wait_js(
        "the fan-out bubble",
        t,
        "const e = document.getElementById('m-' + arguments[0]); return !!e && e.dataset.fanout === '3'",
        json!([first]),
    )
    .await;
    assert_eq!(
        b.js(bubble, json!([first])).await,
        json!([
            "3",
            "claude,codex,third",
            "You → Claude, Codex, Third",
            [
                ["claude", "Claude", "stored"],
                ["codex", "Codex", "queued"],
                ["third", "Third", "stored"]
            ]
        ])
    );
    let count = "return [...document.querySelectorAll('#items article.msg')] \
        .filter(e => e.querySelector('.body').textContent.includes(arguments[0])).length";
    assert_eq!(b.js(count, json!([body])).await, json!(1));
    // Each recipient's state moves on its own chip.
    core.transition(&stored[2].1, THIRD, DeliveryState::Pushed, None, None)
        .expect("pushed");
    b.wait_js(
        "the third's chip to move",
        t,
        "const c = document.querySelector('#m-' + arguments[0] + ' .rcpt[data-to=\"third\"]'); \
         return !!c && c.dataset.state === 'pushed' && c.querySelector('.state').textContent === 'pushed'",
        json!([first]),
    )
    .await;
    assert_eq!(
        b.js(bubble, json!([first])).await[3],
        json!([
            ["claude", "Claude", "stored"],
            ["codex", "Codex", "queued"],
            ["third", "Third", "pushed"]
        ])
    );

    // An agent's `@all`: routed to every other agent, one bubble on the
    // sender's side.
    let relayed = abg::daemon::routing::relay(
        core,
        None,
        NewMessage {
            idempotency_key: Some("codex-item-1".into()),
            ..NewMessage::new(
                PeerId::from_static("codex"),
                PeerId::HUMAN,
                "@all the build is green",
            )
        },
    )
    .expect("relayed");
    let ids: Vec<&str> = relayed.stored.iter().map(|(m, _)| m.id.as_str()).collect();
    assert_eq!(ids.len(), 2, "{relayed:?}");
    b.wait_js(
        "the @all bubble",
        t,
        "const e = document.getElementById('m-' + arguments[0]); return !!e && e.dataset.fanout === '2'",
        json!([ids[0]]),
    )
    .await;
    let relay_look = "const e = document.getElementById('m-' + arguments[0]); \
        return [e.dataset.side, e.className, e.dataset.to, e.querySelector('.who').textContent, \
                e.querySelector('.body').textContent]";
    assert_eq!(
        b.js(relay_look, json!([ids[0]])).await,
        json!([
            "right",
            "msg side-right pal-1",
            "claude,third",
            "Codex → Claude, Third",
            "the build is green"
        ])
    );

    // Copies with nothing saying they are one send stay apart, each naming
    // its recipient.
    let same = "the same words, sent twice";
    let a = human_to(core, "claude", same);
    let c = human_to(core, "third", same);
    for id in [&a, &c] {
        b.wait_js(
            "a live message",
            t,
            "return !!document.getElementById('m-' + arguments[0])",
            json!([id]),
        )
        .await;
    }
    assert_eq!(b.js(count, json!([same])).await, json!(2));
    let who = "return document.querySelector('#m-' + arguments[0] + ' .who').textContent";
    assert_eq!(b.js(who, json!([a])).await, json!("You → Claude"));
    assert_eq!(b.js(who, json!([c])).await, json!("You → Third"));

    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    b.resize(1100, 900).await;
    let png = b.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let shot = target.join("ui-three.png");
    std::fs::write(&shot, &png).expect("write screenshot");
    println!("screenshot: {}", shot.display());
    b.quit().await;
}
