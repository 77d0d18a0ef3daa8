//! The loop governor through a real daemon: a pause at the limit with a
//! notice to both agents, held messages released by the human's next
//! message or `abg resume-relay`, trivial acknowledgements damped.

use abg::control::client::Client;
use abg::control::protocol::SendRequest;
use abg::store::types::PeerId;

use crate::env::AbgEnv;

fn req(from: PeerId, to: PeerId, body: &str) -> SendRequest {
    SendRequest {
        from,
        to,
        body: body.into(),
        on_busy: None,
        in_reply_to: None,
        idempotency_key: None,
    }
}

#[test]
fn governor_pauses_at_limit_and_human_resumes() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let out = env
        .cmd(&p)
        .args(["status", "--json"])
        .env("ABG_GOVERNOR_MAX_EXCHANGES", "3")
        .output()
        .expect("status");
    assert!(out.status.success());
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret")).expect("secret");
    let client = Client::new(env.base_port + 2, secret.trim().to_string());
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let states: Vec<String> = [
        (
            abg::claude::PEER,
            abg::codex::PEER,
            "plan: parse the config",
        ),
        (abg::codex::PEER, abg::claude::PEER, "parsed; 2 warnings"),
        (abg::claude::PEER, abg::codex::PEER, "fix the warnings"),
        (abg::codex::PEER, abg::claude::PEER, "fixed both"),
        (abg::claude::PEER, abg::codex::PEER, "now the docs"),
    ]
    .iter()
    .map(|(f, t, b)| {
        rt.block_on(client.send(&req(*f, *t, b)))
            .expect("send")
            .state
    })
    .collect();
    assert_eq!(states, ["queued", "stored", "queued", "held", "held"]);

    let status = rt.block_on(client.status()).expect("status");
    assert!(
        status
            .relay_paused
            .as_deref()
            .unwrap_or("")
            .contains("3 agent-to-agent")
    );
    let page = rt.block_on(client.messages_after(0, 100)).expect("list");
    let notices: Vec<_> = page.messages.iter().filter(|m| m.from == "abg").collect();
    assert_eq!(notices.len(), 2, "one notice to each agent");

    // A bare acknowledgement while paused is still held (not damped) — the
    // pause wins; after the human writes, acks are damped.
    let human = rt
        .block_on(client.send(&req(
            PeerId::HUMAN,
            abg::codex::PEER,
            "go on, but stop after docs",
        )))
        .expect("human");
    assert_eq!(human.state, "queued");
    let page = rt.block_on(client.messages_after(0, 100)).expect("list");
    let held: Vec<_> = page
        .messages
        .iter()
        .filter(|m| m.state.as_deref() == Some("held"))
        .collect();
    assert!(held.is_empty(), "released: {held:?}");
    assert!(
        rt.block_on(client.status())
            .expect("status")
            .relay_paused
            .is_none()
    );
    let ack = rt
        .block_on(client.send(&req(abg::codex::PEER, abg::claude::PEER, "Thanks!")))
        .expect("ack");
    assert_eq!(ack.state, "failed", "a bare acknowledgement is not relayed");
}

#[test]
fn resume_relay_releases_held_messages() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let out = env
        .cmd(&p)
        .args(["status", "--json"])
        .env("ABG_GOVERNOR_MAX_EXCHANGES", "1")
        .output()
        .expect("status");
    assert!(out.status.success());
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret")).expect("secret");
    let client = Client::new(env.base_port + 2, secret.trim().to_string());
    let rt = tokio::runtime::Runtime::new().expect("rt");
    rt.block_on(client.send(&req(abg::claude::PEER, abg::codex::PEER, "one")))
        .expect("send");
    let second = rt
        .block_on(client.send(&req(abg::codex::PEER, abg::claude::PEER, "two")))
        .expect("send");
    assert_eq!(second.state, "held");
    let out = env.ok(&p, &["resume-relay"]);
    assert!(out.contains("1 held message(s) released"), "{out}");
    let page = rt.block_on(client.messages_after(0, 100)).expect("list");
    let two = page.messages.iter().find(|m| m.body == "two").expect("two");
    assert_eq!(two.state.as_deref(), Some("stored"));
}
