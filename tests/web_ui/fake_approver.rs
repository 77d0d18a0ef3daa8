//! A peer for the web approvals tests, registered beside Claude and Codex in
//! an in-process daemon (`foundation/in_process.rs`): the test records its
//! requests through the core's port ([`Core::record_approval`]) and the
//! peer takes verdicts by counting what it got, so a test can tell that an
//! answer from the page reached the agent exactly once. Also a browser
//! session for such a daemon: a login link minted with a control session
//! (`open_page` in `web_ui.rs` logs a headless Chromium in with it).

use std::sync::{Arc, Mutex};

use abg::daemon::approvals::{Recorded, Verdict};
use abg::daemon::core::{Core, CoreError};
use abg::daemon::peer::{Peer, PeerResult};
use abg::store::types::{Approval, ApprovalKind, DeliveryModel, NewApproval, PeerId};

pub const FAKE: PeerId = PeerId::from_static("fake");

#[derive(Default)]
pub struct FakeApprover {
    got: Mutex<Vec<(String, Verdict)>>,
}

impl FakeApprover {
    /// Every verdict received: (approval id, verdict).
    pub fn got(&self) -> Vec<(String, Verdict)> {
        self.got.lock().unwrap().clone()
    }

    pub fn as_peer(self: &Arc<Self>) -> Arc<dyn Peer> {
        Arc::clone(self) as Arc<dyn Peer>
    }
}

impl Peer for FakeApprover {
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

    fn answer(&self, _core: &Core, _request: serde_json::Value) -> PeerResult {
        Err(CoreError::Invalid("the fake takes no requests".into()))
    }

    fn deliver_verdict(
        &self,
        _core: &Core,
        approval: &Approval,
        verdict: &Verdict,
    ) -> Result<(), CoreError> {
        self.got
            .lock()
            .unwrap()
            .push((approval.id.clone(), verdict.clone()));
        Ok(())
    }
}

/// Record a request of the fake through the core's port; its id.
pub fn ask(
    core: &Core,
    key: &str,
    kind: ApprovalKind,
    detail: serde_json::Value,
    options: Option<&[&str]>,
) -> String {
    let recorded = core
        .record_approval(NewApproval {
            peer: FAKE,
            request_key: key.into(),
            kind,
            detail,
            options: options.map(|o| o.iter().map(|s| s.to_string()).collect()),
            expires_ms: None,
        })
        .expect("recorded");
    match recorded {
        Recorded::Stored { approval, fresh } => {
            assert!(fresh, "a new request");
            approval.id
        }
        Recorded::RelayOff => panic!("the relay is on by default"),
    }
}

/// A one-time login link of the daemon on `port` (minted with a control
/// session proved by `secret`, as `abg ui` does).
pub async fn login_url(http: &reqwest::Client, port: u16, secret: &str) -> String {
    let session = abg::control::client::open_session(http, port, secret)
        .await
        .expect("control session");
    let token: serde_json::Value = http
        .post(format!("http://127.0.0.1:{port}/v1/ui/login-token"))
        .header("authorization", session)
        .send()
        .await
        .expect("login token")
        .json()
        .await
        .expect("json");
    format!(
        "http://127.0.0.1:{port}{}",
        token["path"].as_str().expect("path")
    )
}
