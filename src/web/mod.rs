//! The pair's web UI, served by the daemon on its control port under `/ui`:
//! embedded assets (no build step), a JSON API, and a live Server-Sent
//! Events stream of the transcript (`/ui/api/stream`).
//!
//! | method | path                       | what                                      |
//! |--------|----------------------------|-------------------------------------------|
//! | POST   | `/v1/ui/login-token`       | session: mint a one-time login token       |
//! | POST   | `/v1/ui/revoke-all`        | session: void every session and login token |
//! | GET    | `/ui/login?token=T`        | swap T for the session cookie              |
//! | GET    | `/ui/`, `/ui/assets/*`     | the page, its scripts and style            |
//! | GET    | `/ui/api/session`          | the CSRF token and pair identity           |
//! | GET    | `/ui/api/status`           | pair status bar ([`stream::StatusView`])   |
//! | GET    | `/ui/api/messages?before=&limit=` | a page of history and the stream cursor |
//! | GET    | `/ui/api/events?before=&limit=`   | a page of pair events               |
//! | GET    | `/ui/api/search?q=`        | full-text search (FTS5)                    |
//! | GET    | `/ui/api/export?format=md\|jsonl` | the transcript as a download        |
//! | GET    | `/ui/api/approvals?answered=N` | pending approvals and the N last answered |
//! | GET    | `/ui/api/stream?after=m.d.e` | SSE: `message`, `delivery`, `event`, `approval`, `status` |
//! | POST   | `/ui/api/send`, `/ui/api/logout` | state-changing: CSRF header required (logout revokes the session) |
//! | POST   | `/ui/api/approvals/{id}`   | answer an approval (as `web`; CSRF header required) |
//!
//! Authentication ([`auth`]) is enforced by the control plane's guard, with
//! which [`auth::UiAuth`] is registered as the gate of every `/ui` path; the
//! handlers here assume an authorized request.

pub mod api;
pub mod approvals;
pub mod auth;
pub mod revocation;
pub mod stream;
pub mod view;

use std::sync::Arc;
use std::sync::atomic::AtomicI64;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use thiserror::Error;

use self::auth::UiAuth;
use crate::control::errors;
use crate::control::protocol::ErrorCode;
use crate::daemon::core::{Core, CoreError};
use crate::daemon::peer::Peers;
use crate::store::StoreError;

/// Whether `path` belongs to the UI (cookie-authenticated, not by control session).
pub fn is_ui_path(path: &str) -> bool {
    path == "/ui" || path.starts_with("/ui/")
}

/// State shared by the UI's handlers.
#[derive(Clone)]
pub struct WebState {
    pub core: Arc<Core>,
    /// The peers, whose adapters take answers to approvals.
    pub peers: Peers,
    /// The UI's login tokens and session cookies.
    pub ui: Arc<UiAuth>,
    /// A lower bound of the delivery log's last seq (it only grows).
    pub delivery_head: Arc<AtomicI64>,
}

/// Why a UI request failed.
#[derive(Debug, Error)]
pub enum WebError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("store error: {0}")]
    Store(#[from] StoreError),
    #[error("cannot encode: {0}")]
    Encode(#[from] serde_json::Error),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            WebError::Invalid(_) => (StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument),
            WebError::Core(e) => e.status(),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::Internal),
        };
        errors::error(status, code, self.to_string())
    }
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const RENDER_JS: &str = include_str!("assets/render.js");
const APPROVALS_JS: &str = include_str!("assets/approvals.js");
const PEERS_JS: &str = include_str!("assets/peers.js");
const ACTIVITY_JS: &str = include_str!("assets/activity.js");
const APP_CSS: &str = include_str!("assets/app.css");

/// Content-Security-Policy of every UI response: only our own script and
/// style, no inline script, no framing, no plugins.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The UI's routes, to merge into the control plane's router (whose guard
/// layer authenticates them, with `ui` as its gate).
pub fn router<S: Clone + Send + Sync + 'static>(
    core: Arc<Core>,
    peers: Peers,
    ui: Arc<UiAuth>,
) -> Router<S> {
    let state = WebState {
        core,
        peers,
        ui,
        delivery_head: Arc::new(AtomicI64::new(0)),
    };
    Router::new()
        .route("/v1/ui/login-token", post(api::login_token))
        .route("/v1/ui/revoke-all", post(api::revoke_all))
        .route("/ui/login", get(api::login))
        .route("/ui", get(index))
        .route("/ui/", get(index))
        .route(
            "/ui/assets/app.js",
            get(|| asset(APP_JS, "text/javascript")),
        )
        .route(
            "/ui/assets/render.js",
            get(|| asset(RENDER_JS, "text/javascript")),
        )
        .route(
            "/ui/assets/approvals.js",
            get(|| asset(APPROVALS_JS, "text/javascript")),
        )
        .route(
            "/ui/assets/peers.js",
            get(|| asset(PEERS_JS, "text/javascript")),
        )
        .route(
            "/ui/assets/activity.js",
            get(|| asset(ACTIVITY_JS, "text/javascript")),
        )
        .route("/ui/assets/app.css", get(|| asset(APP_CSS, "text/css")))
        .route("/ui/api/session", get(api::session))
        .route("/ui/api/logout", post(api::logout))
        .route("/ui/api/status", get(api::status))
        .route("/ui/api/messages", get(api::messages))
        .route("/ui/api/events", get(api::events))
        .route("/ui/api/search", get(api::search))
        .route("/ui/api/export", get(api::export))
        .route("/ui/api/send", post(api::send))
        .route("/ui/api/approvals", get(approvals::list))
        .route("/ui/api/approvals/{id}", post(approvals::answer))
        .route("/ui/api/stream", get(stream::stream))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn index() -> Response {
    asset(INDEX_HTML, "text/html; charset=utf-8").await
}

async fn asset(body: &'static str, content_type: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    resp
}
