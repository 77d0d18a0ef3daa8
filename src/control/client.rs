//! Client of the control plane, used by the CLI and the agent-side
//! processes. Every call carries the pair secret and the protocol header.

use std::time::Duration;

use serde::de::DeserializeOwned;
use thiserror::Error;

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
    #[error("the daemon refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("unexpected answer from the daemon: {0}")]
    Decode(String),
    #[error(transparent)]
    Secret(#[from] crate::paths::PathsError),
}

/// An authenticated handle on one pair's daemon.
#[derive(Debug, Clone)]
pub struct Client {
    port: u16,
    secret: String,
    http: reqwest::Client,
}

impl Client {
    /// A client for `pair`, reading its secret file.
    pub fn for_pair(pair: &Pair) -> Result<Self, ClientError> {
        Ok(Self::new(pair.ports.control, pair.secret()?))
    }

    pub fn new(port: u16, secret: String) -> Self {
        let http = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        Self { port, secret, http }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        timeout: Duration,
    ) -> Result<T, ClientError> {
        let resp = req
            .bearer_auth(&self.secret)
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION.to_string())
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| ClientError::Unreachable {
                port: self.port,
                detail: e.to_string(),
            })?;
        let status = resp.status();
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
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// `GET /v1/status` with a short timeout (used as the liveness probe).
    pub async fn status(&self) -> Result<DaemonStatus, ClientError> {
        self.call(
            self.http.get(self.url("/v1/status")),
            Duration::from_secs(3),
        )
        .await
    }

    /// Store a message for delivery.
    pub async fn send(&self, req: &SendRequest) -> Result<SendResult, ClientError> {
        self.call(
            self.http.post(self.url("/v1/messages")).json(req),
            Duration::from_secs(30),
        )
        .await
    }

    /// Messages after `after`, oldest first.
    pub async fn messages_after(&self, after: i64, limit: u32) -> Result<MessagePage, ClientError> {
        self.call(
            self.http
                .get(self.url(&format!("/v1/messages?after={after}&limit={limit}"))),
            Duration::from_secs(30),
        )
        .await
    }

    /// Quota relay (issue 7): the budget report (`GET /v1/budget`).
    pub async fn budget(&self) -> Result<crate::budget::report::Report, ClientError> {
        self.call(
            self.http.get(self.url("/v1/budget")),
            Duration::from_secs(5),
        )
        .await
    }

    /// Quota relay: record Claude's statusline `rate_limits`, within `timeout`.
    pub async fn budget_readings(
        &self,
        req: &crate::budget::http::ReadingsRequest,
        timeout: Duration,
    ) -> Result<crate::budget::http::ReadingsAck, ClientError> {
        self.call(
            self.http.post(self.url("/v1/budget/readings")).json(req),
            timeout,
        )
        .await
    }

    /// Quota relay: pause (`true`) or resume a side by hand.
    pub async fn budget_manual(
        &self,
        side: crate::budget::readings::Side,
        pause: bool,
    ) -> Result<crate::budget::relay::ManualResult, ClientError> {
        let path = if pause {
            "/v1/budget/pause"
        } else {
            "/v1/budget/resume"
        };
        self.call(
            self.http
                .post(self.url(path))
                .json(&crate::budget::http::SideRequest { side }),
            Duration::from_secs(10),
        )
        .await
    }

    /// Lift a loop-governor pause; returns the daemon's JSON answer.
    pub async fn resume_relay(&self) -> Result<serde_json::Value, ClientError> {
        self.call(
            self.http.post(self.url("/v1/relay/resume")),
            Duration::from_secs(10),
        )
        .await
    }

    /// Ask the daemon to shut down cleanly.
    pub async fn shutdown(&self) -> Result<Ack, ClientError> {
        self.call(
            self.http.post(self.url("/v1/shutdown")),
            Duration::from_secs(3),
        )
        .await
    }
}
