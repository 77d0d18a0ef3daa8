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
//!
//! The bodies are wire types of [`crate::control::protocol::budget`].

use std::sync::Arc;

use super::readings::Side;
use super::relay;
use super::report::Report;
use super::sense;
use crate::control::errors;
use crate::control::protocol::ErrorCode;
use crate::control::protocol::budget::{ManualResult, ReadingsAck, ReadingsRequest, SideRequest};
use crate::daemon::core::{Core, CoreError};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

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
    errors::core_error(e)
}

/// Parse a request body, or the 400 answer saying why it is unusable.
/// Public for the fuzz targets (`fuzz/`).
pub fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(errors::error(
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
