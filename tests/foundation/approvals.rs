//! The approvals inbox through a fake peer, registered beside Claude and
//! Codex like the peer seam's: its adapter records requests through the
//! core's port (over its own control connection) and takes verdicts by
//! recording what it got. Answers go over the real HTTP routes: the first
//! wins and reaches the fake exactly once, a second is refused naming the
//! first, a request answered in the agent's own UI takes no late answer,
//! an adapter that fails leaves it abandoned (nothing approved), and with
//! `approvals.relay` off nothing is stored. The real binary lists and
//! answers against a real daemon.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use abg::claude::wsclient::ControlLink;
use abg::config::Config;
use abg::control::client::{Client, ClientError};
use abg::control::protocol::Role;
use abg::control::protocol::approvals::{AnswerRequest, Decision};
use abg::daemon::approvals::{Recorded, Verdict};
use abg::daemon::core::{Core, CoreError};
use abg::daemon::peer::{Peer, PeerResult};
use abg::store::types::{
    AnsweredVia, Approval, ApprovalKind, ApprovalState, DeliveryModel, NewApproval, PeerId,
};
use serde_json::json;

use crate::env::AbgEnv;
use crate::in_process::{self, InProcess};

const FAKE: PeerId = PeerId::from_static("fake");

/// A peer whose agent asks for approvals (`{"ask": key, …}` requests), says
/// when its own UI answered one (`{"elsewhere": key}`), and takes verdicts
/// by recording them, unless the request asked it to fail.
#[derive(Default)]
struct FakePeer {
    got: Mutex<Vec<(String, Verdict)>>,
}

impl FakePeer {
    fn got(&self) -> Vec<(String, Verdict)> {
        self.got.lock().unwrap().clone()
    }
}

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
        if let Some(key) = request["elsewhere"].as_str() {
            let moved = core.approval_answered_elsewhere(FAKE, key, AnsweredVia::Tui)?;
            return Ok(json!({ "moved": moved.is_some() }));
        }
        let key = request["ask"]
            .as_str()
            .ok_or_else(|| CoreError::Invalid("not a fake request".into()))?;
        let options = serde_json::from_value(request["options"].clone())
            .map_err(|e| CoreError::Invalid(e.to_string()))?;
        let recorded = core.record_approval(NewApproval {
            peer: FAKE,
            request_key: key.into(),
            kind: ApprovalKind::Command,
            detail: request["detail"].clone(),
            options,
            expires_ms: None,
        })?;
        Ok(match recorded {
            Recorded::Stored { approval, fresh } => json!({ "id": approval.id, "fresh": fresh }),
            Recorded::RelayOff => json!({ "relay_off": true }),
        })
    }

    fn deliver_verdict(
        &self,
        _core: &Core,
        approval: &Approval,
        verdict: &Verdict,
    ) -> Result<(), CoreError> {
        if approval.detail["fail"] == true {
            return Err(CoreError::Undelivered("the fake's agent went away".into()));
        }
        self.got
            .lock()
            .unwrap()
            .push((approval.id.clone(), verdict.clone()));
        Ok(())
    }
}

struct Daemon {
    d: InProcess,
    fake: Arc<FakePeer>,
}

impl std::ops::Deref for Daemon {
    type Target = InProcess;
    fn deref(&self) -> &InProcess {
        &self.d
    }
}

/// An in-process daemon with the real peers and the fake, under `config`.
async fn daemon(config: Config) -> Daemon {
    let fake = Arc::new(FakePeer::default());
    let d = in_process::start(Arc::clone(&fake) as Arc<dyn Peer>, config).await;
    Daemon { d, fake }
}

async fn ask(link: &ControlLink, key: &str, detail: serde_json::Value) -> serde_json::Value {
    link.peer(
        FAKE,
        json!({ "ask": key, "detail": detail, "options": ["approve", "deny"] }),
        Duration::from_secs(5),
    )
    .await
    .expect("the fake asks")
}

fn answer(decision: Decision) -> AnswerRequest {
    AnswerRequest {
        decision,
        reason: None,
    }
}

/// The status and message of a refused call.
fn refused(r: Result<impl std::fmt::Debug, ClientError>) -> (u16, String) {
    match r {
        Err(ClientError::Refused { status, message }) => (status, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_inbox_first_answer_wins_and_reaches_the_agent_once() {
    let d = daemon(Config::default()).await;
    let (link, _) = ControlLink::connect(d.port, &d.secret, Role::Peer(FAKE))
        .await
        .expect("the fake attaches");
    let client = Client::new(d.port, d.secret.clone());

    // Recorded through the port; a replay is the same request.
    let first = ask(
        &link,
        "7:t1",
        json!({"command": "touch x", "reason": "probe"}),
    )
    .await;
    assert_eq!(first["fresh"], true);
    let id = first["id"].as_str().unwrap().to_owned();
    let again = ask(
        &link,
        "7:t1",
        json!({"command": "touch x", "reason": "probe"}),
    )
    .await;
    assert_eq!(
        (again["id"].as_str(), again["fresh"].as_bool()),
        (Some(id.as_str()), Some(false))
    );

    let list = client.approvals(false, 100).await.expect("list");
    assert_eq!(list.pending, 1);
    assert_eq!(list.approvals.len(), 1);
    assert_eq!(list.approvals[0].id, id);
    assert_eq!(list.approvals[0].peer, FAKE);
    assert_eq!(list.approvals[0].detail["command"], "touch x");
    assert_eq!(client.status().await.expect("status").approvals_pending, 1);

    // A decision the request does not offer is refused; nothing moves.
    let (status, message) = refused(
        client
            .answer_approval(&id, &answer(Decision::ApproveForSession))
            .await,
    );
    assert_eq!(status, 400, "{message}");
    assert!(
        message.contains("does not offer \"approve_for_session\""),
        "{message}"
    );
    assert!(d.fake.got().is_empty());

    // The first answer: stored, then handed to the fake exactly once.
    let done = client
        .answer_approval(&id, &answer(Decision::Approve))
        .await
        .expect("approve");
    assert_eq!(done.approval.state, ApprovalState::Approved);
    assert_eq!(done.approval.answered_via, Some(AnsweredVia::Cli));
    let got = d.fake.got();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, id);
    assert_eq!(got[0].1.decision, Decision::Approve);

    // A second answer is refused, naming the first.
    let (status, message) = refused(
        client
            .answer_approval(
                &id,
                &AnswerRequest {
                    decision: Decision::Deny,
                    reason: Some("changed my mind".into()),
                },
            )
            .await,
    );
    assert_eq!(status, 409, "{message}");
    assert!(
        message.contains("already approved via cli by human at"),
        "{message}"
    );
    assert_eq!(d.fake.got().len(), 1);

    // Answered in the agent's own UI: a late approve is refused, the fake
    // receives nothing.
    let second = ask(&link, "8:t1", json!({"command": "rm -rf build"})).await;
    let id2 = second["id"].as_str().unwrap().to_owned();
    let moved = link
        .peer(FAKE, json!({ "elsewhere": "8:t1" }), Duration::from_secs(5))
        .await
        .expect("elsewhere");
    assert_eq!(moved["moved"], true);
    let (status, message) = refused(
        client
            .answer_approval(&id2, &answer(Decision::Approve))
            .await,
    );
    assert_eq!(status, 409, "{message}");
    assert!(message.contains("answered_elsewhere via tui"), "{message}");
    assert_eq!(d.fake.got().len(), 1);

    // An adapter that cannot deliver: abandoned, nothing approved.
    let third = ask(&link, "9:t1", json!({"command": "make", "fail": true})).await;
    let id3 = third["id"].as_str().unwrap().to_owned();
    let (status, message) = refused(
        client
            .answer_approval(&id3, &answer(Decision::Approve))
            .await,
    );
    assert_eq!(status, 502, "{message}");
    assert!(
        message.contains("abandoned (nothing was approved)"),
        "{message}"
    );
    assert!(message.contains("the fake's agent went away"), "{message}");
    let row = d.core.approval(&id3).expect("row");
    assert_eq!(row.state, ApprovalState::Abandoned);
    assert_eq!(
        row.decision.as_ref().unwrap()["error"],
        "the fake's agent went away"
    );
    assert_eq!(d.fake.got().len(), 1);

    // Unknown ids and bad bodies.
    let (status, message) = refused(
        client
            .answer_approval("a_nope", &answer(Decision::Approve))
            .await,
    );
    assert_eq!(status, 404, "{message}");
    let auth =
        abg::control::client::open_session(&abg::control::client::http_client(), d.port, &d.secret)
            .await
            .expect("session");
    let (status, body) = crate::control::http(
        d.port,
        "POST",
        &format!("/v1/approvals/{id}"),
        &[
            ("Authorization", auth.as_str()),
            ("abg-protocol", "2"),
            ("Content-Type", "application/json"),
        ],
        br#"{"decison":"approve"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("decison") || body.contains("decision"),
        "{body}"
    );

    // Everything is in the audit trail, and the inbox lists it all.
    let events = d
        .core
        .with_store(|s| s.events_after(0, 1000))
        .expect("events");
    let kinds = |k: &str| events.iter().filter(|e| e.kind == k).count();
    assert_eq!(kinds("approval.requested"), 3);
    assert_eq!(kinds("approval.answered"), 3);
    let all = client.approvals(true, 100).await.expect("all");
    assert_eq!(all.pending, 0);
    assert_eq!(all.approvals.len(), 3);
    assert_eq!(client.status().await.expect("status").approvals_pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_relay_off_nothing_is_stored() {
    let mut config = Config::default();
    config.settings.approvals_relay = false;
    let d = daemon(config).await;
    let (link, _) = ControlLink::connect(d.port, &d.secret, Role::Peer(FAKE))
        .await
        .expect("the fake attaches");
    let r = ask(&link, "1:t", json!({"command": "ls"})).await;
    assert_eq!(r["relay_off"], true);
    let (rows, pending) = d.core.approvals(None, 10).expect("list");
    assert!(rows.is_empty());
    assert_eq!(pending, 0);
}

#[test]
fn the_binary_lists_and_answers_against_a_real_daemon() {
    let env = AbgEnv::new();
    let p = env.project("p");
    let list = env.json(&p, &["approvals", "--json"]);
    assert_eq!(list["pending"], 0, "{list}");
    assert_eq!(list["approvals"], json!([]), "{list}");
    assert_eq!(
        env.ok(&p, &["approvals"]).trim(),
        "no approval requests waiting"
    );
    let out = env.run(&p, &["approve", "a_0000000000000000"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("(404)") && err.contains("no approval"),
        "{err}"
    );
    let out = env.run(&p, &["deny", "a_0", "--reason", "no"]);
    assert_eq!(out.status.code(), Some(1));
    let status = env.json(&p, &["status", "--json"]);
    assert_eq!(status["approvals_pending"], 0);
    env.ok(&p, &["kill"]);
}

/// Claude's relay against the real binary's daemon: `abg mcp`'s frames (a
/// permission request, then the verdict it is pushed) over a control
/// connection that says hello as `claude`, with `abg approvals -f --json`
/// following along: the request appears, `abg deny` reaches the
/// connection as a push for that session, and the follower prints the
/// change. A second request settled in the TUI closes as answered there.
#[test]
fn claudes_relay_and_a_follower_against_a_real_daemon() {
    use abg::claude::protocol::{Behavior, ClaudePush, ClaudeRequest, PermissionRequest, Settled};
    use std::io::{BufRead, BufReader};

    let env = AbgEnv::new();
    let p = env.project("p");
    env.ok(&p, &["status"]);
    let secret = std::fs::read_to_string(env.pair_dirs()[0].join("secret"))
        .expect("secret")
        .trim()
        .to_string();
    let port = env.base_port + 2;
    let mut follower = env
        .cmd(&p)
        .args(["approvals", "-f", "--json"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("abg approvals -f");
    let mut lines = BufReader::new(follower.stdout.take().expect("stdout")).lines();
    // Ends the follower however the test ends (it would poll forever).
    struct Reap(std::process::Child);
    impl Drop for Reap {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _follower = Reap(follower);
    let mut next = move || -> serde_json::Value {
        let line = lines.next().expect("a line").expect("utf-8");
        serde_json::from_str(&line).expect("json line")
    };
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let (link, _) = rt
        .block_on(ControlLink::connect(
            port,
            &secret,
            Role::Peer(abg::claude::PEER),
        ))
        .expect("connect as claude");
    let mut pushes = link.take_pushes().expect("pushes");
    let ask = |id: &str| {
        let req = ClaudeRequest::Permission(PermissionRequest {
            session: "sess1".into(),
            request_id: id.into(),
            tool_name: "Bash".into(),
            description: "Create marker".into(),
            input_preview: "{ \"command\": \"touch x\" }".into(),
        });
        rt.block_on(link.claude(req, Duration::from_secs(5)))
            .expect("recorded");
    };
    ask("uhssg");
    let first = next();
    assert_eq!(first["state"], "pending", "{first}");
    assert_eq!(first["peer"], "claude");
    assert_eq!(first["kind"], "command");
    assert_eq!(first["request_key"], "sess1:uhssg");
    let id = first["id"].as_str().expect("id").to_string();
    // abg approve --for-session is refused: Claude's relay answers one call.
    let out = env.run(&p, &["approve", &id, "--for-session"]);
    assert_eq!(out.status.code(), Some(1));
    env.ok(&p, &["deny", &id, "--reason", "not now"]);
    let push = rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(5), pushes.recv()).await })
        .expect("a push in time")
        .expect("a push");
    assert_eq!(
        serde_json::from_value::<ClaudePush>(push).expect("a Claude push"),
        ClaudePush::Permission {
            session: "sess1".into(),
            request_id: "uhssg".into(),
            behavior: Behavior::Deny,
        }
    );
    let denied = next();
    assert_eq!(
        (
            denied["id"].as_str(),
            denied["state"].as_str(),
            denied["answered_via"].as_str()
        ),
        (Some(id.as_str()), Some("denied"), Some("cli")),
        "{denied}"
    );

    ask("nhdpp");
    let second = next();
    assert_eq!(second["state"], "pending", "{second}");
    let req = ClaudeRequest::PermissionSettled {
        session: "sess1".into(),
        request_id: "nhdpp".into(),
        outcome: Settled::Allowed,
    };
    rt.block_on(link.claude(req, Duration::from_secs(5)))
        .expect("settled");
    let closed = next();
    assert_eq!(
        (closed["state"].as_str(), closed["answered_via"].as_str()),
        (Some("answered_elsewhere"), Some("tui")),
        "{closed}"
    );
    let out = env.run(&p, &["approve", second["id"].as_str().expect("id")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("answered_elsewhere"));
    // The audit: both requests and their answers are in the export.
    let md = env.ok(&p, &["export"]);
    assert!(md.contains("## Approvals"), "{md}");
    assert!(
        md.contains("denied at ") && md.contains("via cli by human (decision: deny)"),
        "{md}"
    );
    assert!(
        md.contains("answered_elsewhere at ") && md.contains("via tui"),
        "{md}"
    );
    let jl = env.ok(&p, &["export", "--format", "jsonl"]);
    let audit: Vec<serde_json::Value> = jl
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["record"] == "approval")
        .collect();
    assert_eq!(audit.len(), 2, "{jl}");
    assert_eq!(audit[0]["request_key"], "sess1:uhssg");
    env.ok(&p, &["kill"]);
}
