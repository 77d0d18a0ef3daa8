//! Client of the control plane, used by the CLI and the agent-side
//! processes. Before anything derived from the pair secret goes on the
//! wire, the listener on the control port must prove it is the pair's
//! daemon ([`super::handshake`]); every call then carries the session and
//! the protocol header. A listener that fails the proof is named (pid and
//! process name, where the OS shows them) in [`ClientError::NotTheDaemon`].

use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use thiserror::Error;

use super::handshake::{self, ChallengeAnswer, ChallengeRequest};
use super::protocol::{
    Ack, DaemonStatus, ErrorBody, MessagePage, PROTOCOL_HEADER, PROTOCOL_VERSION, SendRequest,
    SendResult,
};
use crate::pair::Pair;

/// Why a control call failed.
#[derive(Debug, Error)]
pub enum ClientError {
    #[error("the pair's daemon is not reachable on 127.0.0.1:{port} ({detail})")]
    Unreachable { port: u16, detail: String },
    #[error(
        "the process on 127.0.0.1:{port} is not this pair's daemon{holder}: {detail}; abg sent it nothing secret. Stop that process or free the port, then run the command again"
    )]
    NotTheDaemon {
        port: u16,
        /// " by pid N (name)" where the OS shows the listener, else "".
        holder: String,
        holder_pid: Option<u32>,
        /// The HTTP status it answered the challenge with, if any.
        answered: Option<u16>,
        detail: String,
    },
    #[error("the daemon refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("unexpected answer from the daemon: {0}")]
    Decode(String),
    #[error(transparent)]
    Secret(#[from] crate::paths::PathsError),
}

/// `id` safe in a URL path: anything but ASCII letters, digits, `_` and `-`
/// is percent-encoded.
fn urlencoding(id: &str) -> String {
    id.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A plain loopback HTTP client (no proxy, bounded connect).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_default()
}

/// Open a session with the daemon on `port` (see [`super::handshake`]):
/// returns the `Authorization` value to send, once the listener proved it
/// knows `secret`. Nothing secret-derived is sent before that proof.
pub async fn open_session(
    http: &reqwest::Client,
    port: u16,
    secret: &str,
) -> Result<String, ClientError> {
    let client_nonce = handshake::new_nonce();
    let resp = http
        .post(format!(
            "http://127.0.0.1:{port}{}",
            handshake::CHALLENGE_PATH
        ))
        .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
        .json(&ChallengeRequest {
            client_nonce: client_nonce.clone(),
        })
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| ClientError::Unreachable {
            port,
            detail: e.to_string(),
        })?;
    let status = resp.status();
    let impostor = |detail: String| {
        let owner = crate::pair::ports::owner_of(port);
        ClientError::NotTheDaemon {
            port,
            holder: owner
                .as_ref()
                .map(|(pid, name)| format!(" (it is pid {pid}, {name})"))
                .unwrap_or_default(),
            holder_pid: owner.map(|(pid, _)| pid),
            answered: Some(status.as_u16()),
            detail,
        }
    };
    if !status.is_success() {
        return Err(impostor(format!(
            "it answered the daemon challenge with HTTP {status}"
        )));
    }
    let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
        port,
        detail: e.to_string(),
    })?;
    let answer: ChallengeAnswer = serde_json::from_slice(&bytes)
        .map_err(|_| impostor("its answer to the daemon challenge is not a proof".into()))?;
    handshake::verify_daemon(secret, port, &client_nonce, &answer)
        .map_err(|e| impostor(format!("it did not prove it knows the pair secret ({e})")))
}

/// An authenticated handle on one pair's daemon; clones share the session.
#[derive(Debug, Clone)]
pub struct Client {
    port: u16,
    secret: String,
    http: reqwest::Client,
    session: Arc<tokio::sync::Mutex<Option<String>>>,
}

impl Client {
    /// A client for `pair`, reading its secret file.
    pub fn for_pair(pair: &Pair) -> Result<Self, ClientError> {
        Ok(Self::new(pair.ports.control, pair.secret()?))
    }

    pub fn new(port: u16, secret: String) -> Self {
        Self {
            port,
            secret,
            http: http_client(),
            session: Arc::default(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The cached session, or a new one; `true` when it is new.
    async fn session(&self) -> Result<(String, bool), ClientError> {
        let mut cached = self.session.lock().await;
        if let Some(s) = cached.as_ref() {
            return Ok((s.clone(), false));
        }
        let s = open_session(&self.http, self.port, &self.secret).await?;
        *cached = Some(s.clone());
        Ok((s, true))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        req: impl Fn() -> reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        loop {
            let (session, fresh) = self.session().await?;
            let resp = req()
                .header(reqwest::header::AUTHORIZATION, &session)
                .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| ClientError::Unreachable {
                    port: self.port,
                    detail: e.to_string(),
                })?;
            let status = resp.status();
            if status == reqwest::StatusCode::UNAUTHORIZED && !fresh {
                // The daemon restarted: its sessions died with it. Renew
                // once (the new one proves itself again).
                let mut cached = self.session.lock().await;
                if cached.as_deref() == Some(session.as_str()) {
                    *cached = None;
                }
                continue;
            }
            let bytes = resp.bytes().await.map_err(|e| ClientError::Unreachable {
                port: self.port,
                detail: e.to_string(),
            })?;
            if !status.is_success() {
                let message = serde_json::from_slice::<ErrorBody>(&bytes)
                    .map(|b| b.message)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
                return Err(ClientError::Refused {
                    status: status.as_u16(),
                    message,
                });
            }
            return serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()));
        }
    }

    /// `GET /v1/status` with a short timeout (used as the liveness probe).
    pub async fn status(&self) -> Result<DaemonStatus, ClientError> {
        self.call(
            || self.http.get(self.url("/v1/status")),
            Duration::from_secs(3),
        )
        .await
    }

    /// Store a message for delivery.
    pub async fn send(&self, req: &SendRequest) -> Result<SendResult, ClientError> {
        self.call(
            || self.http.post(self.url("/v1/messages")).json(req),
            Duration::from_secs(30),
        )
        .await
    }

    /// Messages after `after`, oldest first.
    pub async fn messages_after(&self, after: i64, limit: u32) -> Result<MessagePage, ClientError> {
        self.call(
            || {
                self.http
                    .get(self.url(&format!("/v1/messages?after={after}&limit={limit}")))
            },
            Duration::from_secs(30),
        )
        .await
    }

    /// The approvals inbox: pending requests, or every one when `all`.
    pub async fn approvals(
        &self,
        all: bool,
        limit: u32,
    ) -> Result<super::protocol::approvals::ApprovalList, ClientError> {
        let state = if all { "all" } else { "pending" };
        self.call(
            || {
                self.http
                    .get(self.url(&format!("/v1/approvals?state={state}&limit={limit}")))
            },
            Duration::from_secs(30),
        )
        .await
    }

    /// Answer approval `id`.
    pub async fn answer_approval(
        &self,
        id: &str,
        answer: &super::protocol::approvals::AnswerRequest,
    ) -> Result<super::protocol::approvals::AnswerResult, ClientError> {
        let path = format!("/v1/approvals/{}", urlencoding(id));
        self.call(
            || self.http.post(self.url(&path)).json(answer),
            Duration::from_secs(60),
        )
        .await
    }

    /// Quota relay (issue 7): the budget report (`GET /v1/budget`).
    pub async fn budget(&self) -> Result<super::protocol::budget::Report, ClientError> {
        self.call(
            || self.http.get(self.url("/v1/budget")),
            Duration::from_secs(5),
        )
        .await
    }

    /// Quota relay: record Claude's statusline `rate_limits`, within `timeout`.
    pub async fn budget_readings(
        &self,
        req: &super::protocol::budget::ReadingsRequest,
        timeout: Duration,
    ) -> Result<super::protocol::budget::ReadingsAck, ClientError> {
        self.call(
            || self.http.post(self.url("/v1/budget/readings")).json(req),
            timeout,
        )
        .await
    }

    /// Quota relay: pause (`true`) or resume a side by hand.
    pub async fn budget_manual(
        &self,
        side: super::protocol::budget::Side,
        pause: bool,
    ) -> Result<super::protocol::budget::ManualResult, ClientError> {
        let path = if pause {
            "/v1/budget/pause"
        } else {
            "/v1/budget/resume"
        };
        self.call(
            || {
                self.http
                    .post(self.url(path))
                    .json(&super::protocol::budget::SideRequest { side })
            },
            Duration::from_secs(10),
        )
        .await
    }

    /// Lift a loop-governor pause; returns the daemon's JSON answer.
    pub async fn resume_relay(&self) -> Result<serde_json::Value, ClientError> {
        self.call(
            || self.http.post(self.url("/v1/relay/resume")),
            Duration::from_secs(10),
        )
        .await
    }

    /// Mint a one-time login token for the web UI (`abg ui`).
    pub async fn ui_login_token(&self) -> Result<super::protocol::LoginToken, ClientError> {
        self.call(
            || self.http.post(self.url("/v1/ui/login-token")),
            Duration::from_secs(10),
        )
        .await
    }

    /// Log every browser out: revoke all web UI sessions and unused login
    /// links (`POST /v1/ui/revoke-all`).
    pub async fn ui_revoke_all(&self) -> Result<Ack, ClientError> {
        self.call(
            || self.http.post(self.url("/v1/ui/revoke-all")),
            Duration::from_secs(10),
        )
        .await
    }

    /// Ask the daemon to shut down cleanly.
    pub async fn shutdown(&self) -> Result<Ack, ClientError> {
        self.call(
            || self.http.post(self.url("/v1/shutdown")),
            Duration::from_secs(3),
        )
        .await
    }
}
