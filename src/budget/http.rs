//! The budget's control-plane routes, merged into the control router (its
//! guard authenticates them: a control session, or the UI cookie under `/ui/`).
//!
//! | method | path                   | body → answer                          |
//! |--------|------------------------|----------------------------------------|
//! | GET    | `/v1/budget`           | → [`Report`] (`abg.budget/1`)          |
//! | POST   | `/v1/budget/readings`  | [`ReadingsRequest`] → [`ReadingsAck`]  |
//! | POST   | `/v1/budget/pause`     | [`SideRequest`] → [`ManualResult`]     |
//! | POST   | `/v1/budget/resume`    | [`SideRequest`] → [`ManualResult`]     |
//! | GET    | `/ui/api/budget`       | → [`Report`] (for the web UI)          |

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::readings::Side;
use super::relay::{self, ManualResult};
use super::report::Report;
use super::sense;
use crate::control::guard;
use crate::control::protocol::ErrorCode;
use crate::daemon::core::{Core, CoreError};

/// Readings from an agent's own surface (today: Claude's statusline).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingsRequest {
    pub side: Side,
    /// Claude's statusline `rate_limits` object, as received.
    pub rate_limits: Value,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingsAck {
    pub recorded: usize,
    /// Why windows were not recorded (a figure out of range), one sentence each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideRequest {
    pub side: Side,
}

/// The routes, to merge into the control router.
pub fn router<S: Clone + Send + Sync + 'static>(core: Arc<Core>) -> Router<S> {
    Router::new()
        .route("/v1/budget", get(report))
        .route("/ui/api/budget", get(report))
        .route("/v1/budget/readings", post(readings))
        .route("/v1/budget/pause", post(|s, b| manual(s, b, true)))
        .route("/v1/budget/resume", post(|s, b| manual(s, b, false)))
        .with_state(core)
}

fn failed(e: CoreError) -> Response {
    crate::control::errors::core_error(e)
}

/// Parse a request body, or the 400 answer saying why it is unusable.
/// Public for the fuzz targets (`fuzz/`).
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(guard::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadFrame,
            format!("request body is not valid here: {e}"),
        ))
    })
}

async fn report(State(core): State<Arc<Core>>) -> Response {
    match tokio::task::spawn_blocking(move || sense::report(&core)).await {
        Ok(Ok(r)) => axum::Json::<Report>(r).into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => failed(CoreError::Invalid(format!("budget report failed: {e}"))),
    }
}

async fn readings(State(core): State<Arc<Core>>, body: Bytes) -> Response {
    let req: ReadingsRequest = match parse(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    if req.side != Side::Claude {
        return failed(CoreError::Invalid(
            "only Claude's readings are posted; Codex's come from its app-server".into(),
        ));
    }
    match sense::record_claude(&core, &req.rate_limits) {
        Ok((recorded, rejected)) => axum::Json(ReadingsAck {
            recorded,
            rejected: rejected.iter().map(ToString::to_string).collect(),
        })
        .into_response(),
        Err(e) => failed(e),
    }
}

/// The budget report as text for Claude's `get_budget` tool; a sentence
/// saying why when it cannot be read.
pub async fn report_text(pair: Option<&crate::pair::Pair>) -> String {
    let Some(pair) = pair else {
        return "abg: no budget data: this MCP server is not attached to an abg pair".into();
    };
    let client = match crate::control::client::Client::for_pair(pair) {
        Ok(c) => c,
        Err(e) => return format!("abg: cannot read the budget: {e}"),
    };
    match client.budget().await {
        Ok(r) => super::text::render(
            &r,
            &format!("abg budget — {}", pair.name),
            crate::pair::registry::now_ms(),
        ),
        Err(e) => format!("abg: cannot read the budget: {e}"),
    }
}

async fn manual(State(core): State<Arc<Core>>, body: Bytes, pause: bool) -> Response {
    let req: SideRequest = match parse(&body) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    match relay::manual(&core, req.side, pause) {
        Ok(r) => axum::Json::<ManualResult>(r).into_response(),
        Err(e) => failed(e),
    }
}
