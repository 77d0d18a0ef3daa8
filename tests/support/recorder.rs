//! A shared, awaitable log of the HTTP requests a mock server received.
//!
//! Why it exists: tests assert on what an agent sent to its model (the user
//! text, a `<channel>` block, a tool result), and must wait for that request
//! with a deadline instead of sleeping. Every mock model server records into
//! this type, and its one-line-per-request summary goes into failure reports.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use serde_json::Value;
use tokio::sync::watch;

/// One request as the mock saw it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// 0-based position in the log.
    pub index: usize,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// Lower-cased names.
    pub headers: Vec<(String, String)>,
    /// The JSON body, or `Value::Null` when empty, or a string when not JSON.
    pub body: Value,
    /// Time since the mock started.
    pub at: Duration,
}

impl RecordedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Cloneable handle to a request log.
#[derive(Clone)]
pub struct RequestLog {
    inner: Arc<Mutex<Vec<RecordedRequest>>>,
    count: Arc<watch::Sender<usize>>,
    started: Instant,
    /// Renders one request as a short line for failure reports.
    describe: fn(&RecordedRequest) -> String,
}

impl RequestLog {
    pub fn new(describe: fn(&RecordedRequest) -> String) -> Self {
        Self {
            inner: Arc::default(),
            count: Arc::new(watch::channel(0).0),
            started: Instant::now(),
            describe,
        }
    }

    pub fn push(
        &self,
        method: String,
        path: String,
        query: Option<String>,
        headers: Vec<(String, String)>,
        body: Value,
    ) -> RecordedRequest {
        let mut log = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let req = RecordedRequest {
            index: log.len(),
            method,
            path,
            query,
            headers,
            body,
            at: self.started.elapsed(),
        };
        log.push(req.clone());
        let n = log.len();
        drop(log);
        self.count.send_replace(n);
        req
    }

    /// Every request so far, oldest first.
    pub fn all(&self) -> Vec<RecordedRequest> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn len(&self) -> usize {
        *self.count.borrow()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits until a request at position `since` or later matches `pred`, and
    /// returns the first such request. `what` names the awaited request in
    /// the timeout error, which also lists every request received.
    pub async fn wait_since(
        &self,
        since: usize,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&RecordedRequest) -> bool,
    ) -> Result<RecordedRequest> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut rx = self.count.subscribe();
        let mut checked = since;
        loop {
            rx.borrow_and_update();
            {
                let log = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                if let Some(hit) = log.iter().skip(checked).find(|r| pred(r)) {
                    return Ok(hit.clone());
                }
                checked = checked.max(log.len());
            }
            if tokio::time::timeout_at(deadline, rx.changed())
                .await
                .is_err()
            {
                bail!(
                    "timed out after {timeout:?} waiting for a mock request: {what}\n\
                     requests received:\n{}",
                    self.summary(40)
                );
            }
        }
    }

    /// The last `n` requests, one line each.
    pub fn summary(&self, n: usize) -> String {
        let log = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if log.is_empty() {
            return "  (none)".to_string();
        }
        let skip = log.len().saturating_sub(n);
        log.iter()
            .skip(skip)
            .map(|r| {
                format!(
                    "  #{} +{:.2}s {} {} {}",
                    r.index,
                    r.at.as_secs_f64(),
                    r.method,
                    r.path,
                    (self.describe)(r)
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Cuts `s` to at most `max` chars for one-line summaries.
pub fn clip(s: &str, max: usize) -> String {
    let one_line = s.replace('\n', "\\n");
    if one_line.chars().count() <= max {
        one_line
    } else {
        let mut out: String = one_line.chars().take(max).collect();
        out.push('…');
        out
    }
}
