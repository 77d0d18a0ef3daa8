//! The approvals inbox in the web UI: the panel's list
//! (`GET /ui/api/approvals`), the human's answer
//! (`POST /ui/api/approvals/{id}`, which the guard lets through only with
//! the session cookie, a same-origin `Origin` and the CSRF header, like
//! `/ui/api/send`), and the live stream's `approval` events. Answers go
//! through the control plane's own handler ([`answer_as`]) with
//! `answered_via = web`, so the first answer wins exactly once whichever
//! door it came through, and a late one gets the same 409 naming how the
//! request was answered. The stream sends an approval's current row each
//! time its pair event (`approval.requested`, `approval.answered`) passes
//! the stream's cursor, so a reconnect replays what it missed like any
//! other event.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::sse::Event as SseEvent;
use axum::response::{IntoResponse, Response};

use super::{WebError, WebState};
use crate::clock::now_ms;
use crate::control::approvals::answer_as;
use crate::control::protocol::web::{UiApprovals, UiApprovalsQuery};
use crate::daemon::core::Core;
use crate::store::types::{AnsweredVia, ApprovalState, Event};

/// Most pending approvals the panel lists (far more than anyone answers).
const MAX_PENDING: usize = 500;
/// Most answered approvals the panel is sent.
const MAX_ANSWERED: usize = 100;

/// Pair events whose approval the stream sends along.
const KINDS: [&str; 2] = ["approval.requested", "approval.answered"];

/// Every pending approval, then the `answered` most recently closed ones.
pub async fn list(
    State(w): State<WebState>,
    q: Result<Query<UiApprovalsQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UiApprovals>, WebError> {
    let Ok(Query(q)) = q else {
        return Err(WebError::Invalid(format!(
            "query must be empty or ?answered=<0..{MAX_ANSWERED}>"
        )));
    };
    let answered = q.answered.min(MAX_ANSWERED);
    let (mut approvals, pending) = w
        .core
        .approvals(Some(ApprovalState::Pending), MAX_PENDING)?;
    if answered > 0 {
        // Pending rows sort first: skip past them to the closed ones.
        let (all, _) = w.core.approvals(None, approvals.len() + answered)?;
        approvals.extend(
            all.into_iter()
                .filter(|a| a.state != ApprovalState::Pending)
                .take(answered),
        );
    }
    Ok(Json(UiApprovals {
        approvals,
        pending,
        now_ms: now_ms(),
    }))
}

/// The human's answer from the page, recorded as given through the web.
pub async fn answer(State(w): State<WebState>, Path(id): Path<String>, body: Bytes) -> Response {
    answer_as(w.core.clone(), w.peers.clone(), id, &body, AnsweredVia::Web)
        .await
        .into_response()
}

/// The `approval` SSE event for pair event `ev` (with stream id `id`):
/// the approval's row as it stands now, when `ev` is about one.
pub(super) fn stream_event(core: &Core, ev: &Event, id: &str) -> Option<SseEvent> {
    if !KINDS.contains(&ev.kind.as_str()) {
        return None;
    }
    let approval_id = ev.data.get("id")?.as_str()?;
    let row = match core.approval(approval_id) {
        Ok(row) => row,
        Err(e) => {
            tracing::warn!(id = approval_id, "ui stream: approval not read: {e}");
            return None;
        }
    };
    SseEvent::default()
        .event("approval")
        .id(id)
        .json_data(&row)
        .ok()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::daemon::approvals::Recorded;
    use crate::store::types::{ApprovalKind, NewApproval, PeerId};

    #[test]
    fn the_stream_sends_an_approvals_current_row_after_its_events() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let core = crate::peers::test_core(tmp.path());
        let recorded = core
            .record_approval(NewApproval {
                peer: PeerId::from_static("codex"),
                request_key: "1:t".into(),
                kind: ApprovalKind::Command,
                detail: json!({"command": "ls"}),
                options: None,
                expires_ms: None,
            })
            .expect("recorded");
        let Recorded::Stored { approval, .. } = recorded else {
            panic!("stored")
        };
        let events = core.with_store(|s| s.events_after(0, 100)).expect("events");
        let requested = events
            .iter()
            .find(|e| e.kind == "approval.requested")
            .expect("approval.requested");
        assert!(stream_event(&core, requested, "0.0.1").is_some());
        let other = Event {
            seq: 99,
            ts_ms: 0,
            kind: "turn.started".into(),
            data: json!({"id": approval.id}),
        };
        assert!(stream_event(&core, &other, "0.0.2").is_none());
        let unknown = Event {
            kind: "approval.answered".into(),
            data: json!({"id": "a_nope"}),
            ..other
        };
        assert!(stream_event(&core, &unknown, "0.0.3").is_none());
    }
}
