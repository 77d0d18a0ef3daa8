//! The scaffolding every scripted mock model server shares
//! ([`super::mock_openai`], [`super::mock_anthropic`], [`super::mock_chat`]):
//! serving an axum handler on `127.0.0.1:0`, recording each request into a
//! [`RequestLog`], and the script of steps a test queues or keys to a
//! request body.
//!
//! Why it exists: the three mocks differ only in the wire format they speak
//! and in which requests take a scripted step; how a step is chosen (a
//! responder first, then the FIFO, then an echo reply) and what a test can
//! do with a running mock are the same, so they live here once. Each mock
//! is a [`MockServer`] of its own step type, with its own `start` and
//! `base_url` beside these methods.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Result;
use axum::Router;
use axum::extract::Request;
use serde_json::Value;

use super::recorder::{RecordedRequest, RequestLog};
use super::sse;

/// Decides a step from a request body (see [`MockServer::respond_with`]).
pub type Responder<S> = Arc<dyn Fn(&Value) -> Option<S> + Send + Sync>;

/// The steps a test scripted, and what was served of them.
pub struct Script<S> {
    steps: VecDeque<S>,
    /// Asked first for every scripted request; `None` falls back to `steps`.
    responder: Option<Responder<S>>,
    /// Scripted requests served so far.
    served: usize,
    /// Headers added to every response (a step's own headers win).
    pub default_headers: Vec<(String, String)>,
}

impl<S> Default for Script<S> {
    fn default() -> Self {
        Self {
            steps: VecDeque::new(),
            responder: None,
            served: 0,
            default_headers: Vec::new(),
        }
    }
}

impl<S> Script<S> {
    /// The step for the next scripted request with `body`, and its number
    /// (1-based): the responder's, else the next queued one, else
    /// `echo(number)`.
    pub fn next(&mut self, body: &Value, echo: impl FnOnce(usize) -> S) -> (S, usize) {
        self.served += 1;
        let n = self.served;
        let keyed = self.responder.as_ref().and_then(|f| f(body));
        let step = keyed
            .or_else(|| self.steps.pop_front())
            .unwrap_or_else(|| echo(n));
        (step, n)
    }
}

/// What a mock's request handler gets as its state.
pub struct Shared<S> {
    pub log: RequestLog,
    script: Arc<Mutex<Script<S>>>,
}

impl<S> Clone for Shared<S> {
    fn clone(&self) -> Self {
        Self {
            log: self.log.clone(),
            script: Arc::clone(&self.script),
        }
    }
}

impl<S> Shared<S> {
    /// Reads the whole request and records it.
    pub async fn record(&self, req: Request) -> RecordedRequest {
        let r = sse::read_request(req).await;
        self.log.push(r.method, r.path, r.query, r.headers, r.body)
    }

    pub fn script(&self) -> MutexGuard<'_, Script<S>> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running mock answering with steps of type `S`. Dropping it stops the
/// server.
pub struct MockServer<S> {
    port: u16,
    shared: Shared<S>,
    task: tokio::task::JoinHandle<()>,
}

impl<S> Drop for MockServer<S> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl<S: Send + 'static> MockServer<S> {
    /// Serves `handler` for every route on `127.0.0.1:0` in the current
    /// network namespace; `describe` renders a request for reports.
    pub async fn serve<H, T>(describe: fn(&RecordedRequest) -> String, handler: H) -> Result<Self>
    where
        H: axum::handler::Handler<T, Shared<S>>,
        T: 'static,
    {
        let shared = Shared {
            log: RequestLog::new(describe),
            script: Arc::new(Mutex::new(Script::default())),
        };
        let router = Router::new().fallback(handler).with_state(shared.clone());
        let (port, task) = sse::serve(router).await?;
        Ok(Self { port, shared, task })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Answers each scripted request with what `f` makes of its body, when
    /// it returns a step (steps keyed to the text they answer); `None`
    /// falls back to the FIFO script, then to the echo reply.
    pub fn respond_with(&self, f: impl Fn(&Value) -> Option<S> + Send + Sync + 'static) {
        self.shared.script().responder = Some(Arc::new(f));
    }

    /// Queues a step (FIFO).
    pub fn push(&self, step: S) {
        self.shared.script().steps.push_back(step);
    }

    /// Steps not yet consumed.
    pub fn pending_steps(&self) -> usize {
        self.shared.script().steps.len()
    }

    /// Headers added to every response (a step's own headers win).
    pub fn set_default_headers(&self, headers: Vec<(String, String)>) {
        self.shared.script().default_headers = headers;
    }

    /// Every request received, oldest first (unscripted ones included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.all()
    }

    /// The log, for waiting from a mark (`log().len()`) and for reports.
    pub fn log(&self) -> &RequestLog {
        &self.shared.log
    }

    /// Waits for any request (already received or future) matching `pred`.
    pub async fn wait_for_request(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&RecordedRequest) -> bool,
    ) -> Result<RecordedRequest> {
        self.shared.log.wait_since(0, what, timeout, pred).await
    }
}
