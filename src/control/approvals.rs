//! The approvals inbox's routes: `GET /v1/approvals` lists requests,
//! `POST /v1/approvals/{id}` answers one (see [`super::protocol::approvals`]).
//! The web UI answers through the same [`answer_as`], as `web`.
//! Answering runs off the async workers: the owning peer's adapter may talk
//! to its agent. The adapter is found through the registry the server holds;
//! this file names no agent.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::app::AppState;
use super::errors::{core_error, error, page_query};
use super::protocol::ErrorCode;
use super::protocol::approvals::{AnswerRequest, AnswerResult, ApprovalList};
use crate::daemon::approvals::Verdict;
use crate::daemon::core::Core;
use crate::daemon::peer::Peers;
use crate::store::types::{AnsweredVia, ApprovalState};

/// `GET /v1/approvals?state=pending|all&limit=N`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default = "default_limit")]
    limit: u32,
}

fn default_limit() -> u32 {
    100
}

pub(super) async fn list(
    State(s): State<AppState>,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let q = match page_query(q, "?state=<pending|all|STATE>&limit=<1..1000>", |q| q.limit) {
        Ok(q) => q,
        Err(answer) => return *answer,
    };
    let state = match q.state.as_deref() {
        None | Some("pending") => Some(ApprovalState::Pending),
        Some("all") => None,
        Some(other) => match other.parse::<ApprovalState>() {
            Ok(st) => Some(st),
            Err(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidArgument,
                    format!(
                        "state must be pending, all, or one of approved, denied, answered_elsewhere, expired, abandoned; not {other:?}"
                    ),
                );
            }
        },
    };
    match s.core.approvals(state, q.limit as usize) {
        Ok((approvals, pending)) => axum::Json(ApprovalList { approvals, pending }).into_response(),
        Err(e) => core_error(e),
    }
}

pub(super) async fn answer(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    answer_as(
        Arc::clone(&s.core),
        s.peers.clone(),
        id,
        &body,
        AnsweredVia::Cli,
    )
    .await
}

/// Answer approval `id` with the JSON [`AnswerRequest`] in `body`, given
/// through `via`: the handler behind `POST /v1/approvals/{id}` (`cli`) and
/// the web UI's `POST /ui/api/approvals/{id}` (`web`). A body that is not
/// an answer is a 400 naming the decisions; an unknown id a 404; an
/// approval already answered a 409 saying how; a decision the request
/// does not offer a 400 naming those it does.
pub(crate) async fn answer_as(
    core: Arc<Core>,
    peers: Peers,
    id: String,
    body: &[u8],
    via: AnsweredVia,
) -> Response {
    let req: AnswerRequest = match serde_json::from_slice(body) {
        Ok(r) => r,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadFrame,
                format!(
                    "request body is not an answer: {e}; send {{\"decision\": \"approve\"|\"approve_for_session\"|\"deny\", \"reason\"?: text}}"
                ),
            );
        }
    };
    let verdict = Verdict {
        decision: req.decision,
        reason: req.reason,
        via,
    };
    match tokio::task::spawn_blocking(move || core.answer_approval(&peers, &id, &verdict)).await {
        Ok(Ok(approval)) => axum::Json(AnswerResult { approval }).into_response(),
        Ok(Err(e)) => core_error(e),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            format!("answering the approval failed: {e}"),
        ),
    }
}
