//! A client of `opencode serve`'s HTTP API: the few routes abg uses, with
//! HTTP Basic auth (user `opencode`, the per-start password), and the
//! `/event` stream read into typed events.
//!
//! Why it exists: the link must create and check the pair's session, post
//! prompts with a client-chosen `messageID`, look one up (the delivery
//! recipe: a prompt is re-posted only after a 404, since posting the same
//! id twice appends a second text part), read the session's messages to
//! ingest answers, follow the session's status, and list and answer
//! permission requests (the approvals inbox). Every request has a
//! timeout: a request sent while the server boots can otherwise hang for
//! minutes (reference §3).

use std::time::Duration;

use serde_json::{Value, json};
use thiserror::Error;
use tokio::sync::mpsc;

use super::event::{Event, MessageInfo, Splitter};

const TIMEOUT: Duration = Duration::from_secs(10);

/// What a request failed with.
#[derive(Debug, Error)]
pub enum ApiError {
    #[error("opencode server: {0}")]
    Http(#[from] reqwest::Error),
    #[error("opencode server answered {status} to {what}: {body}")]
    Status {
        what: &'static str,
        status: u16,
        body: String,
    },
}

/// Whether `id` (a session or permission id from the server) can go into a
/// URL path as is: OpenCode's ids are a prefix, `_` and base62.
pub fn plain_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One message of a session: its info and the text of its text parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionMessage {
    pub info: MessageInfo,
    /// The `text` parts, joined by blank lines.
    pub text: String,
}

impl SessionMessage {
    /// Read one `{info, parts}` entry.
    pub fn parse(v: &Value) -> Self {
        let info = MessageInfo::parse(v.get("info").unwrap_or(&Value::Null));
        let text = v
            .get("parts")
            .and_then(Value::as_array)
            .map(|parts| {
                parts
                    .iter()
                    .filter(|p| p.get("type").and_then(Value::as_str) == Some("text"))
                    .filter(|p| p.get("synthetic").and_then(Value::as_bool) != Some(true))
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect::<Vec<_>>()
                    .join("\n\n")
            })
            .unwrap_or_default();
        SessionMessage { info, text }
    }
}

/// The API of one running server.
#[derive(Clone)]
pub struct Api {
    base: String,
    password: String,
    http: reqwest::Client,
}

impl Api {
    pub fn new(port: u16, password: String) -> Result<Self, ApiError> {
        Ok(Api {
            base: format!("http://127.0.0.1:{port}"),
            password,
            http: reqwest::Client::builder().no_proxy().build()?,
        })
    }

    fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .basic_auth("opencode", Some(&self.password))
            .timeout(TIMEOUT)
    }

    async fn json(
        &self,
        what: &'static str,
        req: reqwest::RequestBuilder,
    ) -> Result<Option<Value>, ApiError> {
        let resp = req.send().await?;
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            return Err(ApiError::Status {
                what,
                status: status.as_u16(),
                body: body.chars().take(300).collect(),
            });
        }
        let text = resp.text().await?;
        Ok(Some(serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// `GET /global/health`: the server's version when it is healthy.
    pub async fn health(&self) -> Result<Option<String>, ApiError> {
        let v = self
            .json(
                "health",
                self.req(reqwest::Method::GET, "/global/health")
                    .timeout(Duration::from_secs(1)),
            )
            .await?;
        Ok(v.filter(|v| v["healthy"] == true)
            .map(|v| v["version"].as_str().unwrap_or_default().to_owned()))
    }

    /// `POST /session` with a title (a titled session sends no title
    /// request to the model); returns its id.
    pub async fn create_session(&self, title: &str) -> Result<String, ApiError> {
        let v = self
            .json(
                "POST /session",
                self.req(reqwest::Method::POST, "/session")
                    .json(&json!({ "title": title })),
            )
            .await?
            .unwrap_or(Value::Null);
        v["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ApiError::Status {
                what: "POST /session",
                status: 200,
                body: format!("no session id in {v}"),
            })
    }

    /// Whether session `id` exists.
    pub async fn session_exists(&self, id: &str) -> Result<bool, ApiError> {
        let path = format!("/session/{id}");
        Ok(self
            .json("GET /session/{id}", self.req(reqwest::Method::GET, &path))
            .await?
            .is_some())
    }

    /// Session `id`'s info (`parentID` is set on a subagent's session),
    /// `None` when the server has no such session.
    pub async fn session_info(&self, id: &str) -> Result<Option<Value>, ApiError> {
        if !plain_id(id) {
            return Ok(None);
        }
        let path = format!("/session/{id}");
        self.json("GET /session/{id}", self.req(reqwest::Method::GET, &path))
            .await
    }

    /// Whether message `message_id` of session `sid` exists.
    pub async fn message_exists(&self, sid: &str, message_id: &str) -> Result<bool, ApiError> {
        let path = format!("/session/{sid}/message/{message_id}");
        Ok(self
            .json("GET message", self.req(reqwest::Method::GET, &path))
            .await?
            .is_some())
    }

    /// The newest `limit` messages of session `sid`, oldest first.
    pub async fn messages(&self, sid: &str, limit: u32) -> Result<Vec<SessionMessage>, ApiError> {
        let path = format!("/session/{sid}/message?limit={limit}");
        let v = self
            .json("GET messages", self.req(reqwest::Method::GET, &path))
            .await?
            .unwrap_or(Value::Null);
        Ok(v.as_array()
            .map(|a| a.iter().map(SessionMessage::parse).collect())
            .unwrap_or_default())
    }

    /// Whether session `sid` is busy (`GET /session/status` lists only
    /// sessions that are not idle).
    pub async fn busy(&self, sid: &str) -> Result<bool, ApiError> {
        let v = self
            .json(
                "GET /session/status",
                self.req(reqwest::Method::GET, "/session/status"),
            )
            .await?
            .unwrap_or(Value::Null);
        Ok(v.get(sid)
            .is_some_and(|s| s.pointer("/type").and_then(Value::as_str) != Some("idle")))
    }

    /// `POST /session/{sid}/prompt_async` with the client-chosen
    /// `message_id` and one text part (204, empty body).
    pub async fn prompt(&self, sid: &str, message_id: &str, text: &str) -> Result<(), ApiError> {
        let path = format!("/session/{sid}/prompt_async");
        let body = json!({"messageID": message_id, "parts": [{"type": "text", "text": text}]});
        let resp = self
            .req(reqwest::Method::POST, &path)
            .json(&body)
            .send()
            .await?;
        let status = resp.status();
        if status.is_success() {
            return Ok(());
        }
        Err(ApiError::Status {
            what: "prompt_async",
            status: status.as_u16(),
            body: resp
                .text()
                .await
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
        })
    }

    /// `GET /permission`: every permission request still waiting for an
    /// answer, in any session (reference §8).
    pub async fn permissions(&self) -> Result<Vec<Value>, ApiError> {
        let v = self
            .json(
                "GET /permission",
                self.req(reqwest::Method::GET, "/permission"),
            )
            .await?
            .unwrap_or(Value::Null);
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// `POST /permission/{id}/reply`: `once`, `always` or `reject` (with
    /// the human's `message`, which the model is told). `false` when the
    /// server has no such open request (404: answered already, or another
    /// server's).
    pub async fn reply_permission(
        &self,
        id: &str,
        reply: &str,
        message: Option<&str>,
    ) -> Result<bool, ApiError> {
        let mut body = json!({ "reply": reply });
        if let Some(m) = message {
            body["message"] = json!(m);
        }
        let path = format!("/permission/{id}/reply");
        Ok(self
            .json(
                "POST /permission/{id}/reply",
                self.req(reqwest::Method::POST, &path).json(&body),
            )
            .await?
            .is_some())
    }

    /// Open `GET /event` and forward its events until it ends; the
    /// returned receiver closes when the stream does.
    pub async fn events(&self) -> Result<mpsc::UnboundedReceiver<Event>, ApiError> {
        let mut resp = self
            .http
            .get(format!("{}/event", self.base))
            .basic_auth("opencode", Some(&self.password))
            .send()
            .await?;
        if !resp.status().is_success() {
            return Err(ApiError::Status {
                what: "GET /event",
                status: resp.status().as_u16(),
                body: String::new(),
            });
        }
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut split = Splitter::default();
            // Heartbeats come every few seconds: a silent minute is a dead stream.
            while let Ok(Ok(Some(chunk))) =
                tokio::time::timeout(Duration::from_secs(60), resp.chunk()).await
            {
                for data in split.feed(&chunk) {
                    let Ok(frame) = serde_json::from_str::<Value>(&data) else {
                        continue;
                    };
                    let event = Event::parse(&frame);
                    if event != Event::Other && tx.send(event).is_err() {
                        return;
                    }
                }
            }
        });
        Ok(rx)
    }
}
