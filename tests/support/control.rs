//! The pair's control plane as the e2e helpers use it: store a message,
//! read the whole transcript (paged), wait for a stored message. One copy,
//! shared by the `abg claude` / `abg codex` / pair / budget launchers.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

/// A session with the daemon on `port` (it proves it knows `secret` first):
/// the `Authorization` value for control-plane calls.
pub async fn session(http: &reqwest::Client, port: u16, secret: &str) -> Result<String> {
    Ok(abg::control::client::open_session(http, port, secret).await?)
}

/// An authenticated handle on one daemon's control plane.
pub struct Control {
    pub http: reqwest::Client,
    pub port: u16,
    pub secret: String,
}

impl Control {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Store a message from `from` to `to`; its id.
    pub async fn inject(&self, from: &str, to: &str, body: &str) -> Result<String> {
        let resp = self
            .http
            .post(self.url("/v1/messages"))
            .header(
                "authorization",
                session(&self.http, self.port, &self.secret).await?,
            )
            .header(
                abg::control::protocol::PROTOCOL_HEADER,
                abg::control::protocol::PROTOCOL_VERSION.to_string(),
            )
            .json(&json!({"from": from, "to": to, "body": body}))
            .send()
            .await?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bail!("inject failed ({status}): {v}");
        }
        v["message_id"]
            .as_str()
            .map(str::to_string)
            .context("message_id")
    }

    /// Every stored message, oldest first, with its delivery state.
    pub async fn messages(&self) -> Result<Vec<Value>> {
        let mut all = Vec::new();
        let mut after = 0;
        loop {
            let resp = self
                .http
                .get(self.url(&format!("/v1/messages?after={after}&limit=1000")))
                .header(
                    "authorization",
                    session(&self.http, self.port, &self.secret).await?,
                )
                .header(
                    abg::control::protocol::PROTOCOL_HEADER,
                    abg::control::protocol::PROTOCOL_VERSION.to_string(),
                )
                .send()
                .await?;
            let status = resp.status();
            let page: Value = resp.json().await.unwrap_or(Value::Null);
            if !status.is_success() {
                bail!("control plane answered {status}: {page}");
            }
            let msgs = page["messages"].as_array().cloned().unwrap_or_default();
            let Some(last) = msgs.last() else { break };
            after = last["seq"].as_i64().unwrap_or(after);
            all.extend(msgs);
        }
        Ok(all)
    }

    /// Wait until a stored message satisfies `pred`; return it.
    pub async fn wait_message(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Result<Value> {
        let end = Instant::now() + timeout;
        loop {
            if let Ok(msgs) = self.messages().await
                && let Some(m) = msgs.iter().find(|m| pred(m))
            {
                return Ok(m.clone());
            }
            if Instant::now() >= end {
                let msgs = self.messages().await.unwrap_or_default();
                bail!("timed out after {timeout:?} waiting for {what}; store: {msgs:#?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
